/**
 * Autovacuum's trigger formula (https://www.postgresql.org/docs/current/routine-vacuuming.html#AUTOVACUUM), once, for
 * `dbops health` (the vacuum and analyze checks) and `dbops maintain --auto` (what is due), so that the two never
 * disagree about a table. Per table: the server's settings overridden by the table's `autovacuum_*` reloptions;
 * vacuum is due when dead tuples pass the dead-tuple trigger (capped by autovacuum_vacuum_max_threshold, PostgreSQL
 * 18) or inserted tuples pass the insert trigger (PostgreSQL 13+, off at -1); analyze when changed tuples pass theirs;
 * a freeze is due past autovacuum_freeze_max_age (which a table may only lower).
 *
 * One row per user table or materialized view; `vacuum_trigger` says which trigger fired ('dead', 'insert', or null)
 * and `vacuum_ratio` / `analyze_ratio` how far past (or short of) it the table is.
 */
export function autovacuumTablesSql(versionNumber: number): string {
  const inserts = versionNumber >= 130000
  const maxThreshold = versionNumber >= 180000
  const option = (name: string, alias: string) => `max(option_value) FILTER (WHERE option_name = '${name}') AS ${alias}`
  return `WITH settings AS (
  SELECT current_setting('autovacuum')::bool AS autovacuum,
    current_setting('autovacuum_vacuum_threshold')::float8 AS vt,
    current_setting('autovacuum_vacuum_scale_factor')::float8 AS vs,
    ${inserts ? `current_setting('autovacuum_vacuum_insert_threshold')::float8` : 'NULL::float8'} AS it,
    ${inserts ? `current_setting('autovacuum_vacuum_insert_scale_factor')::float8` : 'NULL::float8'} AS isf,
    ${maxThreshold ? `current_setting('autovacuum_vacuum_max_threshold')::float8` : '-1::float8'} AS vmax,
    current_setting('autovacuum_analyze_threshold')::float8 AS at,
    current_setting('autovacuum_analyze_scale_factor')::float8 AS asf,
    current_setting('autovacuum_freeze_max_age')::float8 AS fma
), t AS (
  SELECT n.nspname AS schema, c.relname AS table, c.relkind::text AS relkind,
    n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_toast' AND c.relpersistence <> 't' AS user_table,
    greatest(c.reltuples, 0)::float8 AS reltuples,
    st.relid IS NOT NULL AND st.n_dead_tup IS NOT NULL AS has_statistics,
    st.n_dead_tup::float8 AS dead,
    ${inserts ? 'st.n_ins_since_vacuum::float8' : 'NULL::float8'} AS inserted,
    st.n_mod_since_analyze::float8 AS modified,
    greatest(st.last_vacuum, st.last_autovacuum) AS last_vacuum,
    greatest(st.last_analyze, st.last_autoanalyze) AS last_analyze,
    greatest(age(c.relfrozenxid), coalesce(age(toast.relfrozenxid), 0))::float8 AS xid_age,
    o.*
  FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace
  LEFT JOIN pg_stat_all_tables st ON st.relid = c.oid
  LEFT JOIN pg_class toast ON toast.oid = c.reltoastrelid
  LEFT JOIN LATERAL (SELECT
      ${option('autovacuum_enabled', 'o_enabled')},
      ${option('autovacuum_vacuum_threshold', 'o_vt')},
      ${option('autovacuum_vacuum_scale_factor', 'o_vs')},
      ${option('autovacuum_vacuum_insert_threshold', 'o_it')},
      ${option('autovacuum_vacuum_insert_scale_factor', 'o_isf')},
      ${option('autovacuum_vacuum_max_threshold', 'o_vmax')},
      ${option('autovacuum_analyze_threshold', 'o_at')},
      ${option('autovacuum_analyze_scale_factor', 'o_asf')},
      ${option('autovacuum_freeze_max_age', 'o_fma')}
    FROM pg_options_to_table(c.reloptions)) o ON true
  WHERE c.relkind IN ('r', 'm')
), f AS (
  SELECT t.schema, t.table, t.relkind, t.user_table, t.reltuples, t.has_statistics, t.dead, t.inserted, t.modified,
    t.last_vacuum, t.last_analyze, t.xid_age,
    s.autovacuum AS autovacuum_server, coalesce(t.o_enabled::bool, true) AS autovacuum_table,
    coalesce(t.o_vt::float8, s.vt) AS vt, coalesce(t.o_vs::float8, s.vs) AS vs,
    coalesce(t.o_it::float8, s.it) AS it, coalesce(t.o_isf::float8, s.isf) AS isf,
    coalesce(t.o_vmax::float8, s.vmax) AS vmax,
    coalesce(t.o_at::float8, s.at) AS at, coalesce(t.o_asf::float8, s.asf) AS asf,
    least(coalesce(t.o_fma::float8, s.fma), s.fma) AS freeze_max_age
  FROM t CROSS JOIN settings s
), r AS (
  SELECT f.*,
    CASE WHEN f.vmax >= 0 THEN least(f.vmax, f.vt + f.vs * f.reltuples) ELSE f.vt + f.vs * f.reltuples END AS vacuum_threshold,
    CASE WHEN f.it >= 0 THEN f.it + f.isf * f.reltuples END AS insert_threshold,
    f.at + f.asf * f.reltuples AS analyze_threshold
  FROM f
)
SELECT r.*,
  -- The trigger passed furthest names the cause; both count.
  CASE WHEN r.dead > r.vacuum_threshold AND NOT coalesce(r.inserted > r.insert_threshold
              AND r.inserted / greatest(r.insert_threshold, 1) > r.dead / greatest(r.vacuum_threshold, 1), false) THEN 'dead'
       WHEN r.inserted > r.insert_threshold THEN 'insert' END AS vacuum_trigger,
  greatest(r.dead / greatest(r.vacuum_threshold, 1), coalesce(r.inserted / greatest(r.insert_threshold, 1), 0)) AS vacuum_ratio,
  r.modified / greatest(r.analyze_threshold, 1) AS analyze_ratio
FROM r`
}
