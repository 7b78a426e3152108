import { describe, expect, it } from 'vitest'
import { DbopsError, fromSystemError } from '../../src/errors.js'
import { escapeControlCharacters, formatTimestamp } from '../../src/output/format.js'
import { formatTable } from '../../src/output/table.js'

/** An error shaped as node:fs makes them (errno code, syscall, path). */
function fsError(code: string, syscall: string, path?: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: something, ${syscall}${path ? ` '${path}'` : ''}`), {
    code,
    syscall,
    ...(path !== undefined && { path }),
  })
}

describe('fromSystemError', () => {
  it('turns filesystem errors into one E_FILESYSTEM message naming the path and a fix', () => {
    const cases: [string, string, RegExp][] = [
      ['EACCES', 'open', /permission denied .*give the user running dbops access/],
      ['ENOSPC', 'write', /no space left on the device \(disk full\).*free some space/],
      ['EROFS', 'unlink', /read-only file system.*writable location/],
      ['EISDIR', 'read', /is a directory where a file is expected.*rename or remove the directory/],
    ]
    for (const [code, syscall, text] of cases) {
      const mapped = fromSystemError(fsError(code, syscall, '/backups/.lock')) as DbopsError
      expect(mapped).toBeInstanceOf(DbopsError)
      expect(mapped.code).toBe('E_FILESYSTEM')
      expect(mapped.message).toMatch(new RegExp(`^/backups/\\.lock: .*\\(${code}, ${syscall}\\)$`))
      expect(`${mapped.message} ${mapped.hint}`).toMatch(text)
      expect(mapped.details).toEqual({ errno: code, path: '/backups/.lock', syscall })
    }
  })

  it('maps a write(fd) error without a path, and leaves DbopsErrors, network errors and plain errors alone', () => {
    expect((fromSystemError(fsError('ENOSPC', 'write')) as DbopsError).message).toBe(
      'no space left on the device (disk full) (ENOSPC, write)',
    )
    const own = new DbopsError('E_X', 'x')
    expect(fromSystemError(own)).toBe(own)
    const refused = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED', syscall: 'connect' })
    expect(fromSystemError(refused)).toBe(refused)
    const plain = new Error('boom')
    expect(fromSystemError(plain)).toBe(plain)
  })
})

describe('human output helpers', () => {
  it("escapes control characters, keeping dbops' own colours only when asked", () => {
    expect(escapeControlCharacters('a\u001b[2Jb\u0007c\u202ed\n')).toBe('a\\x1b[2Jb\\x07c\\u202ed\n')
    expect(escapeControlCharacters('\u001b[31mred\u001b[39m', true)).toBe('\u001b[31mred\u001b[39m')
    expect(escapeControlCharacters('\u001b[31mred\u001b[39m')).toBe('\\x1b[31mred\\x1b[39m')
  })

  it('tables escape cells and wrap the last column to the width', () => {
    expect(
      formatTable(['A', 'B'], [['x\ny', 'one two three four five six seven eight nine ten eleven twelve']], 30),
    ).toBe(
      ['A     B', 'x\\ny  one two three four five', '      six seven eight nine ten', '      eleven twelve'].join('\n'),
    )
    expect(formatTable(['A', 'B'], [['x', 'long text here']], undefined)).toBe('A  B\nx  long text here')
  })

  it('one timestamp format', () => {
    expect(formatTimestamp('2024-01-31T12:00:05.123Z')).toBe('2024-01-31 12:00:05Z')
    expect(formatTimestamp(new Date(Date.UTC(2024, 0, 31, 12, 0, 5)))).toBe('2024-01-31 12:00:05Z')
    expect(formatTimestamp('2024-01-31 12:00:05+00')).toBe('2024-01-31 12:00:05Z')
  })
})
