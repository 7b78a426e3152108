import { describe, expect, it } from 'vitest'
import { CsvParser, CsvSyntaxError, type CsvFields } from '../../../src/seed/csv-parser.js'

function parse(text: string, chunkSize = text.length || 1): { fields: CsvFields; line: number }[] {
  const out: { fields: CsvFields; line: number }[] = []
  const parser = new CsvParser((fields, line) => {
    out.push({ fields: [...fields], line })
  })
  for (let i = 0; i < text.length; i += chunkSize) parser.push(text.slice(i, i + chunkSize))
  parser.end()
  return out
}

const SAMPLE = '\uFEFFid,name,note\r\n1,"Ada ""the first"", Countess",\r\n2,"",plain\n3,"two\nlines",x\n\n4,last,"q"'

describe('CsvParser', () => {
  it('reads quoted fields, doubled quotes, CRLF and LF, and tells NULL (empty) from "" (quoted empty)', () => {
    const records = parse(SAMPLE)
    expect(records.map((record) => record.fields)).toEqual([
      ['id', 'name', 'note'],
      ['1', 'Ada "the first", Countess', null],
      ['2', '', 'plain'],
      ['3', 'two\nlines', 'x'],
      ['4', 'last', 'q'],
    ])
  })

  it('reports the physical line each record starts on (quoted newlines and blank lines counted)', () => {
    expect(parse(SAMPLE).map((record) => record.line)).toEqual([1, 2, 3, 4, 7])
  })

  it('gives the same result whatever the chunk boundaries', () => {
    const whole = parse(SAMPLE)
    for (const size of [1, 2, 3, 5, 7, 11]) expect(parse(SAMPLE, size)).toEqual(whole)
  })

  it('handles a trailing comma at end of input and a file without a final newline', () => {
    expect(parse('a,b,').map((record) => record.fields)).toEqual([['a', 'b', null]])
    expect(parse('a,"b"').map((record) => record.fields)).toEqual([['a', 'b']])
  })

  it('rejects an unclosed quote and text after a closing quote, naming the line', () => {
    expect(() => parse('a\n"open,1\n2')).toThrow(CsvSyntaxError)
    try {
      parse('x\n1,"a"b\n')
    } catch (error) {
      expect(error).toBeInstanceOf(CsvSyntaxError)
      expect((error as CsvSyntaxError).line).toBe(2)
    }
  })

  it('stops when the callback says so', () => {
    const seen: CsvFields[] = []
    const parser = new CsvParser((fields) => {
      seen.push(fields)
      return true
    })
    parser.push('h1,h2\n1,2\n3,4\n')
    expect(seen).toEqual([['h1', 'h2']])
    expect(parser.stopped).toBe(true)
  })
})
