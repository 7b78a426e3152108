/**
 * A new index's name, `<table>_<columns>_idx`, cut to `maxBytes` (UTF-8, never inside a character) with a short hash
 * when cut so that two long names stay distinct, and made unique among `taken`.
 */
export function indexName(table: string, columns: string[], taken: ReadonlySet<string>, maxBytes: number): string {
  const base = `${table}_${columns.join('_')}_idx`
  let candidate = fit(base, maxBytes)
  for (let n = 1; taken.has(candidate); n++) candidate = fit(base, maxBytes, String(n))
  return candidate
}

function fit(name: string, maxBytes: number, suffix = ''): string {
  const full = suffix ? `${name}${suffix}` : name
  if (Buffer.byteLength(full) <= maxBytes) return full
  const tail = `_${fnv1a(full)}${suffix}`
  let head = ''
  for (const character of name) {
    if (Buffer.byteLength(head + character + tail) > maxBytes) break
    head += character
  }
  return head + tail
}

/** 8 hex digits of FNV-1a: enough to keep two truncated names apart, without loading node:crypto at start-up. */
function fnv1a(text: string): string {
  let hash = 0x811c9dc5
  for (const byte of Buffer.from(text)) {
    hash ^= byte
    hash = Math.imul(hash, 0x01000193) >>> 0
  }
  return hash.toString(16).padStart(8, '0')
}
