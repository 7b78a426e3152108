import { urlPasswords } from '../config/database-url.js'

/**
 * Passwords of every URL dbops was given, so output can be scrubbed of them whatever path a message took (a driver
 * error quoting a connection string, a SQL error echoing a statement).
 */
const secrets = new Set<string>()

export function registerSecretsFromUrl(url: string | undefined): void {
  if (!url) return
  for (const secret of urlPasswords(url)) {
    // A one-character password would turn every occurrence of that character into ***.
    if (secret.length < 2) continue
    secrets.add(secret)
    try {
      secrets.add(decodeURIComponent(secret))
    } catch {
      // Not valid percent-encoding: the raw form is registered already.
    }
  }
}

/** A secret that is not a URL password (an age identity): scrubbed from all output like one. */
export function registerSecret(secret: string): void {
  if (secret.length < 8) return
  secrets.add(secret)
  secrets.add(secret.toLowerCase())
}

export function scrubSecrets(text: string): string {
  let out = text
  for (const secret of secrets) out = out.split(secret).join('***')
  return out
}
