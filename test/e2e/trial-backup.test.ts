// Backup commands pointed at a backup folder that is not one: an error naming the path, never "no backups".
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import Database from 'better-sqlite3'
import { describe, expect, it } from 'vitest'
import { runCli, tempDir } from '../helpers/databases.js'

describe('backup list when the backups path is a file (trial)', () => {
  it('is E_FILESYSTEM naming the folder, exit 2', async () => {
    const dir = tempDir('dbops-trial-backup')
    new Database(path.join(dir, 'app.db')).close()
    writeFileSync(path.join(dir, 'backups'), 'not a folder\n')
    const result = await runCli(['backup', 'list', '--url', 'sqlite:./app.db', '--json'], { cwd: dir })
    expect(result.code).toBe(2)
    expect(JSON.parse(result.stdout).error).toMatchObject({
      code: 'E_FILESYSTEM',
      message: expect.stringContaining(`${path.join(dir, 'backups', 'app')}: a part of the path is a file`),
    })
  })
})
