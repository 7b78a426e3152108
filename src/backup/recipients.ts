// Apart from encryption.ts: config validation runs for every command, and encryption.ts loads node:crypto and
// node:stream (~10 ms of start-up) that only commands that encrypt or decrypt need.

const RECIPIENT = /^age1[0-9a-z]{20,}$/

/** Problems with configured recipients, for config validation (empty when all are usable public keys). */
export function recipientProblems(recipients: readonly string[]): string[] {
  return recipients.flatMap((recipient, index) => {
    if (recipient.startsWith('AGE-SECRET-KEY-'))
      return [
        `backup.encrypt.recipients[${index}]: this is a private identity, not a public key; give its public key (age-keygen -y)`,
      ]
    return RECIPIENT.test(recipient) ? [] : [`backup.encrypt.recipients[${index}]: not an age public key (age1...)`]
  })
}
