import { escapeControlCharacters, escapeLineBreaks } from './format.js'
import { terminalColumns } from './stdio.js'

/**
 * A plain text table: columns padded to their widest cell, no borders, so it greps and diffs well. Cells are one line
 * each (control characters and newlines from the data shown escaped). When the output has a width (a terminal, or
 * COLUMNS set), the last column wraps at word boundaries under itself instead of running past the edge.
 */
export function formatTable(headers: string[], rows: string[][], width: number | undefined = outputWidth()): string {
  const cells = rows.map((row) => row.map((cell) => escapeLineBreaks(escapeControlCharacters(cell, true))))
  const widths = headers.map((header, column) =>
    Math.max(visibleLength(header), ...cells.map((row) => visibleLength(row[column] ?? ''))),
  )
  const lastStart = widths.slice(0, -1).reduce((sum, columnWidth) => sum + columnWidth + 2, 0)
  // Wrapping into fewer than 20 columns reads worse than running past the edge.
  const lastWidth = width !== undefined && width - lastStart >= 20 ? width - lastStart : undefined
  const line = (row: string[]) => {
    const padded = row.map((cell, column) =>
      column === row.length - 1 ? cell : cell + ' '.repeat(widths[column]! - visibleLength(cell)),
    )
    const last = padded.pop() ?? ''
    const [first, ...more] = lastWidth === undefined ? [last] : wrap(last, lastWidth)
    return [[...padded, first].join('  ').trimEnd(), ...more.map((text) => ' '.repeat(lastStart) + text)].join('\n')
  }
  return [line(headers), ...cells.map(line)].join('\n')
}

/** Columns of stdout when it is a terminal, else COLUMNS when set; undefined: do not fit (a pipe or a file). */
export function outputWidth(): number | undefined {
  const terminal = terminalColumns(1)
  if (terminal !== undefined) return terminal
  const columns = Number(process.env.COLUMNS)
  return Number.isInteger(columns) && columns > 0 ? columns : undefined
}

function wrap(text: string, width: number): string[] {
  if (visibleLength(text) <= width) return [text]
  const lines: string[] = []
  let current = ''
  for (const word of text.split(' ')) {
    if (current !== '' && visibleLength(current) + 1 + visibleLength(word) > width) {
      lines.push(current)
      current = ''
    }
    current = current === '' ? word : `${current} ${word}`
    // A single word longer than the line (a long identifier) is cut rather than left to overflow.
    while (visibleLength(current) > width && !/\u001b/.test(current)) {
      lines.push(current.slice(0, width))
      current = current.slice(width)
    }
  }
  if (current !== '') lines.push(current)
  return lines
}

function visibleLength(text: string): number {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\u001b\[[0-9;]*m/g, '').length
}
