/** dbops' own version, recorded in the ledger. Replaced at build time from package.json. */
export const VERSION: string = typeof __DBOPS_VERSION__ === 'string' ? __DBOPS_VERSION__ : '0.0.0-dev'

declare const __DBOPS_VERSION__: string | undefined
