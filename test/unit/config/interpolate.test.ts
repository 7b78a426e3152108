import { describe, expect, it } from 'vitest'
import { interpolateEnv } from '../../../src/config/interpolate.js'

function run(text: string, env: NodeJS.ProcessEnv) {
  const problems: string[] = []
  return { value: interpolateEnv(text, env, 'targets.app.url', problems), problems }
}

describe('interpolateEnv', () => {
  it('replaces ${VAR} with its value', () => {
    expect(run('postgres://${DB_USER}@${DB_HOST}/app', { DB_USER: 'me', DB_HOST: 'db' })).toEqual({
      value: 'postgres://me@db/app',
      problems: [],
    })
  })

  it('uses the default when the variable is unset or empty, like the shell', () => {
    expect(run('${HOST:-localhost}', {}).value).toBe('localhost')
    expect(run('${HOST:-localhost}', { HOST: '' }).value).toBe('localhost')
    expect(run('${HOST:-localhost}', { HOST: 'db' }).value).toBe('db')
    expect(run('${PORT:-}', {}).value).toBe('')
    expect(run('${URL:-sqlite:./dev.db}', {}).value).toBe('sqlite:./dev.db')
  })

  it('reports an unset variable without default, with the path and the fix', () => {
    const { problems } = run('postgres://${DB_HOST}/${DB_NAME:-app}', {})
    expect(problems).toEqual([
      'targets.app.url: environment variable DB_HOST is not set (set it, or write ${DB_HOST:-default})',
    ])
  })

  it('reports every unset variable', () => {
    expect(run('${A}${B}', {}).problems).toHaveLength(2)
  })

  it('keeps a set-but-empty variable empty without complaining', () => {
    expect(run('x${EMPTY}y', { EMPTY: '' })).toEqual({ value: 'xy', problems: [] })
  })

  it('reads $${ as a literal ${', () => {
    expect(run('a$${HOME}b', { HOME: '/root' })).toEqual({ value: 'a${HOME}b', problems: [] })
  })

  it('leaves a lone $ alone', () => {
    expect(run('pa$$word$x', {})).toEqual({ value: 'pa$$word$x', problems: [] })
  })

  it('reports malformed references', () => {
    expect(run('${1BAD}', {}).problems[0]).toMatch(/^targets\.app\.url: cannot read \$\{1BAD\}/)
    expect(run('${OPEN', {}).problems[0]).toMatch(/^targets\.app\.url: unclosed \$\{/)
  })

  it('does not interpolate the default itself', () => {
    expect(run('${A:-${B}', { B: 'b' }).value).toBe('${B')
  })
})
