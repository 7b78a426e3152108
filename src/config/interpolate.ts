const REFERENCE = /\$\$\{|\$\{([^}]*)\}|\$\{/g
const EXPRESSION = /^([A-Za-z_][A-Za-z0-9_]*)(?::-(.*))?$/s

/**
 * Replaces `${VAR}` and `${VAR:-default}` in a config string with values from `env`. As in the shell, the default
 * is used when VAR is unset or empty; `$${` writes a literal `${`. Problems (an unset variable without a default, a
 * malformed reference) are appended to `problems` as `path: ...` lines so validation can report them all at once;
 * a failed reference is replaced by an empty string.
 */
export function interpolateEnv(text: string, env: NodeJS.ProcessEnv, path: string, problems: string[]): string {
  return text.replace(REFERENCE, (match, expression: string | undefined) => {
    if (match === '$${') return '${'
    if (expression === undefined) {
      problems.push(`${path}: unclosed \${ (close it with }, or write $\${ for a literal \${)`)
      return ''
    }
    const parsed = EXPRESSION.exec(expression)
    if (!parsed) {
      problems.push(`${path}: cannot read \${${expression}} (write \${VAR} or \${VAR:-default})`)
      return ''
    }
    const name = parsed[1] as string
    const fallback = parsed[2]
    const value = env[name]
    if (value !== undefined && value !== '') return value
    if (fallback !== undefined) return fallback
    if (value === '') return ''
    problems.push(`${path}: environment variable ${name} is not set (set it, or write \${${name}:-default})`)
    return ''
  })
}
