/** Lint results for CI: GitHub workflow annotations and SARIF 2.1.0 (code-scanning UIs). Pure: they return text. */
import { VERSION } from '../version.js'
import { lintRules } from './lint.js'
import type { LintFinding, LintResult, LintSeverity } from './types.js'

const GITHUB_LEVEL: Record<LintSeverity, string> = { error: 'error', warn: 'warning', info: 'notice' }
const SARIF_LEVEL: Record<LintSeverity, string> = { error: 'error', warn: 'warning', info: 'note' }

/** One `::error file=...,line=...,col=...,title=...::message` line per finding (GitHub Actions workflow commands). */
export function formatGithub(result: LintResult): string {
  const escapeData = (text: string) => text.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A')
  const escapeProperty = (text: string) => escapeData(text).replace(/:/g, '%3A').replace(/,/g, '%2C')
  return result.findings
    .map((finding) => {
      const properties = `file=${escapeProperty(finding.file)},line=${finding.line},col=${finding.column},title=${escapeProperty(`dbops ${finding.rule}`)}`
      return `::${GITHUB_LEVEL[finding.severity]} ${properties}::${escapeData(describe(finding))}`
    })
    .join('\n')
}

/** A SARIF 2.1.0 log with one run, the rules that reported, and one result per finding. */
export function formatSarif(result: LintResult): Record<string, unknown> {
  const rules = lintRules()
  const used = [...new Set(result.findings.map((finding) => finding.rule))]
  return {
    $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
    version: '2.1.0',
    runs: [
      {
        tool: {
          driver: {
            name: 'dbops',
            version: VERSION,
            rules: used.map((id) => {
              const rule = rules.find((candidate) => candidate.id === id)
              return {
                id,
                shortDescription: { text: rule?.description ?? id },
                defaultConfiguration: { level: SARIF_LEVEL[rule?.severity ?? 'warn'] },
              }
            }),
          },
        },
        results: result.findings.map((finding) => ({
          ruleId: finding.rule,
          ruleIndex: used.indexOf(finding.rule),
          level: SARIF_LEVEL[finding.severity],
          message: { text: describe(finding) },
          locations: [
            {
              physicalLocation: {
                artifactLocation: { uri: finding.file.split('\\').join('/') },
                region: { startLine: finding.line, startColumn: finding.column },
              },
            },
          ],
        })),
      },
    ],
  }
}

/** The message with the safe SQL after it, for formats that carry one text per finding. */
function describe(finding: LintFinding): string {
  return `${finding.message}${finding.note ? ` [${finding.note}]` : ''}${finding.safe ? `\nSafer:\n${finding.safe}` : ''}`
}
