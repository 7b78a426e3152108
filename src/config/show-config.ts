import { destinationsOf } from '../backup/destinations.js'
import { formatBytes } from '../output/format.js'
import { redactUrl } from './database-url.js'
import { formatDurationSetting } from './duration.js'
import type { ResolvedTarget } from './resolve-config.js'
import { isS3Url, type S3Options } from '../storage/s3-location.js'

/**
 * Every setting of a target as `config show` prints it. Unset optional settings are null so the --json shape does
 * not depend on the config; durations and sizes stay raw numbers (`lockTimeoutMs`, `smallTableBytes`). Locations
 * are redacted: a bucket URL or endpoint written with credentials shows `***` in their place.
 */
export function showTarget(target: ResolvedTarget) {
  const { backup } = target
  return {
    url: target.redactedUrl,
    database: target.database,
    engine: target.location.engine,
    protected: target.protected,
    migrations: target.migrations,
    seeds: target.seeds,
    backup: {
      dir: showLocation(backup.dir),
      s3: showS3(backup.s3),
      // Without backup.destinations the dir is the one destination `default`, as backup create treats it.
      destinations: destinationsOf(backup).map((entry) => ({
        name: entry.name,
        dir: showLocation(entry.dir),
        s3: showS3(entry.s3),
        retention: entry.retention,
      })),
      format: backup.format ?? null,
      jobs: backup.jobs ?? null,
      retention: backup.retention,
      // Public keys only: identities are never part of the config.
      encrypt: backup.encrypt ? { recipients: backup.encrypt.recipients } : null,
      compress: backup.compress ?? null,
      compressLevel: backup.compressLevel ?? null,
    },
    health: target.health,
    /** null: no lint section, lint's defaults apply. */
    lint: target.lint ?? null,
    /** null: no schema section. */
    schema: target.schema ? { file: target.schema.file ?? null, ...target.schema } : null,
  }
}

/** A folder, or a bucket URL with any userinfo (an access key pair written where it must not be) hidden whole. */
function showLocation(dir: string): string {
  return isS3Url(dir) ? dir.replace(/^(s3:\/\/)[^/]*@/i, '$1***@') : redactUrl(dir)
}

function showS3(s3: S3Options | undefined) {
  if (!s3) return null
  return {
    endpoint: s3.endpoint === undefined ? null : redactUrl(s3.endpoint),
    region: s3.region ?? null,
    forcePathStyle: s3.forcePathStyle ?? null,
  }
}

/**
 * `section.key: value` lines of showTarget's document, as a setting is written in the config: `lockTimeoutMs: 5000`
 * reads `lockTimeout: 5s`, `smallTableBytes` reads `smallTable: 10.0 MB`. Unset (null) settings are left out;
 * destinations are keyed by name.
 */
export function settingLines(prefix: string, value: unknown): string[] {
  if (value === null || value === undefined) return []
  if (Array.isArray(value)) {
    if (value.length === 0) return [`${prefix}: none`]
    if (value.every((item) => typeof item !== 'object' || item === null)) return [`${prefix}: ${value.join(', ')}`]
    return value.flatMap(({ name, ...item }: { name?: string }, index) =>
      settingLines(`${prefix}.${name ?? index}`, item),
    )
  }
  if (typeof value === 'object') {
    const entries = Object.entries(value)
    if (entries.length === 0) return [`${prefix}: none`]
    return entries.flatMap(([key, setting]) => {
      if (typeof setting === 'number' && key.endsWith('Ms'))
        return [`${prefix}.${key.slice(0, -2)}: ${formatDurationSetting(setting)}`]
      if (typeof setting === 'number' && key.endsWith('Bytes'))
        return [`${prefix}.${key.slice(0, -5)}: ${formatBytes(setting)}`]
      return settingLines(`${prefix}.${key}`, setting)
    })
  }
  return [`${prefix}: ${String(value)}`]
}
