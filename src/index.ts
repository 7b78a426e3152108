/**
 * dbops as a library: everything the CLI does, without the CLI. Results are the same objects `--json` prints;
 * failures throw DbopsError with a stable `code`.
 */
export { DbopsError, ConfigError, UsageError, isDbopsError, fromSystemError } from './errors.js'
export { defineConfig } from './config/define-config.js'
export type { DbopsConfig, TargetConfig, MigrationsConfig } from './config/define-config.js'
export { resolveConfig, selectTargets } from './config/resolve-config.js'
export type { ResolvedConfig, ResolvedTarget, ResolvedMigrations, ResolveOptions } from './config/resolve-config.js'
export { openTarget, connectTarget } from './targets/target.js'
export type { Target, OpenTargetOptions, ConnectOptions } from './targets/target.js'
export { forEachTarget } from './targets/for-each-target.js'
export type { TargetOutcome } from './targets/for-each-target.js'
export { waitForTarget } from './targets/wait.js'
export type { WaitResult } from './targets/wait.js'
export { migrateUp, migrateDown, migrateRedo, migrationStatus } from './migrate/run.js'
export type {
  MigrateEvent,
  MigrateOptions,
  UpOptions,
  DownOptions,
  MigrateResult,
  MigrationOutcome,
  StatusResult,
} from './migrate/run.js'
export {
  resolveMigration,
  baselineMigrations,
  restampMigration,
  validateMigrations,
  newMigration,
} from './migrate/manage.js'
export type {
  ResolveResult,
  BaselineResult,
  RestampResult,
  ValidateResult,
  ValidationProblem,
  NewMigrationResult,
} from './migrate/manage.js'
export { readMigrations } from './migrate/files.js'
export type { MigrationFile, MigrationSet, Section, SectionOptions } from './migrate/files.js'
export type { MigrationState, MigrationStatusEntry } from './migrate/plan.js'
export { splitStatements } from './sql/split-statements.js'
export type { SqlStatement, SqlDialect } from './sql/split-statements.js'
export { seedRun, seedStatus } from './seed/run.js'
export type {
  SeedEvent,
  SeedOptions,
  SeedRunOptions,
  SeedRunResult,
  SeedOutcome,
  SeedStatusResult,
  SeedStatusEntry,
  SeedState,
} from './seed/run.js'
export { newSeed } from './seed/new-seed.js'
export type { NewSeedResult, SeedFormat } from './seed/new-seed.js'
export { readSeeds } from './seed/files.js'
export type { SeedFile, SeedSet } from './seed/files.js'
export type { Seeder } from './seed/seeder.js'
export type { Backend, Engine, ServerInfo } from './backends/backend.js'
export { auditTarget, auditExitCode, AUDIT_CHECKS } from './audit/audit.js'
export type { AuditOptions, AuditResult, AcceptedFinding, FailOn } from './audit/audit.js'
export { readBaseline, writeBaseline } from './audit/baseline.js'
export type { BaselineEntry, BaselineFile } from './audit/baseline.js'
export { writeFixMigration } from './audit/fix-migration.js'
export type { AuditThresholds } from './audit/rule.js'
export type { SchemaSnapshot } from './audit/snapshot.js'
export { maintainTarget } from './maintain/maintain.js'
export type { MaintainOptions, MaintainResult, MaintainTaskResult } from './maintain/maintain.js'
export type { MaintainTask, MaintainStep } from './maintain/maintainer.js'
export { MAINTAIN_TASKS } from './maintain/maintainer.js'
export { scrubSecrets } from './output/redact.js'
export { formatTarget } from './output/format.js'
export {
  createBackup,
  listBackups,
  verifyBackup,
  pruneBackups,
  checkBackups,
  restoreBackup,
  LATEST_BACKUP,
  applyRetention,
  writeBackupMetrics,
  restoreSearchDirs,
  targetBackups,
} from './backup/index.js'
export type {
  BackupManifest,
  BackupEvent,
  CreateBackupOptions,
  CreateBackupResult,
  VerifyBackupOptions,
  VerifyBackupResult,
  PruneBackupsOptions,
  PruneBackupsResult,
  CheckBackupsOptions,
  CheckBackupsResult,
  RestoreBackupOptions,
  RestoreBackupResult,
  RetentionPolicy,
  BackupFormat,
  DatabaseIdentity,
  TargetBackups,
  VerifyFailure,
} from './backup/index.js'
export { VERSION } from './version.js'
export { checkHealth } from './health/check-health.js'
export type { HealthOptions, HealthResult } from './health/check-health.js'
export { HEALTH_CHECKS, resolveThresholds, parseThresholdFlags } from './health/checks.js'
export type { CheckSpec, Threshold, Thresholds } from './health/checks.js'
export { formatNagios, healthMetrics, healthExitCode } from './health/health-output.js'
export type { Finding, Severity } from './findings.js'
export { lintMigrations, lintRules } from './lint/lint.js'
export type { LintOptions, LintSource } from './lint/lint.js'
export type { LintFinding, LintResult, LintSeverity, LintSetting, LintSuppression } from './lint/types.js'
export { formatGithub, formatSarif } from './lint/formats.js'
export { fixMigration } from './lint/fix.js'
export type { FixResult } from './lint/fix.js'
export { dumpSchema } from './schema/dump.js'
export type { DumpSchemaOptions, DumpSchemaResult } from './schema/dump.js'
export { schemaDrift } from './schema/drift.js'
export type { SchemaDriftOptions, SchemaDriftResult } from './schema/drift.js'
export { testMigrations } from './schema/migrate-test.js'
export type { TestMigrationsOptions, TestMigrationsResult, MigrationTestFailure } from './schema/migrate-test.js'
export { compareCatalogs, describeDifference } from './schema/compare.js'
export type { SchemaDifference, CompareOptions } from './schema/compare.js'
export type { SchemaCatalog, CatalogObject, CatalogKind } from './schema/catalog.js'
export type { SchemaConfig } from './config/define-config.js'
