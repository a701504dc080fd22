/**
 * Node-only: the CLI's hook for `--engine clickhouse://host:port/db[?table=filters]` (shift, pca, cohorts): the plan
 * from the layers stored there, the passes run there, the rest in-process. Credentials: in the URL
 * (user:password@) or FILTERDB_CLICKHOUSE_USER / FILTERDB_CLICKHOUSE_PASSWORD; never printed.
 */
import type { PcaBasis } from '../analysis/pca.js';
import { FilterDbError } from '../errors.js';
import { type CohortPlan, planCohorts } from '../scan/cohort-scan.js';
import { nonFiniteNote, type SelectionPlan } from '../scan/selection.js';
import { queryRows } from '../store/db.js';
import { type ClickHouseTarget, clickhouseEngine, parseClickHouseUrl, redact } from './clickhouse.js';
import { clickhouseLayerDb, plansOnClickHouse } from './clickhouse-plan.js';
import { type SqlCohortsResult, STORED_ORTHOGONALITY_SQL, sqlCohorts } from './sql-cohorts.js';
import { type SqlShiftResult, sqlBasis, sqlRange, sqlShifts } from './sql-shift.js';

export function engineTarget(spec: string): ClickHouseTarget {
  if (!/^clickhouse:\/\//.test(spec))
    throw new FilterDbError('unsupported', redact(spec), 'is not a known engine (clickhouse://host:8123/db)');
  return parseClickHouseUrl(spec, { user: process.env.FILTERDB_CLICKHOUSE_USER });
}

async function plannedOn(
  spec: string,
  options: { where?: string; by?: string[] },
  note: (s: string | null) => void,
): Promise<{ target: ClickHouseTarget; plan: SelectionPlan; plans: SelectionPlan[] }> {
  const target = engineTarget(spec);
  const plans = await plansOnClickHouse(target, options.where, options.by ?? [null]);
  const plan = plans[0];
  note(nonFiniteNote(plan));
  if (plan.filterCount === 0)
    throw new FilterDbError(
      'unsupported',
      redact(spec),
      `no 3x3 filters selected${plan.where ? ` by --where ${plan.where}` : ''}`,
    );
  return { target, plan, plans };
}

/** `shift --engine … --by A [--by B …]`: every grouping from one set of passes. */
export async function engineShift(
  spec: string,
  options: { where?: string; by: string[]; bins: number },
  note: (s: string | null) => void,
): Promise<SqlShiftResult[]> {
  const { target, plans } = await plannedOn(spec, options, note);
  const engine = clickhouseEngine(target);
  try {
    return await sqlShifts(engine, plans, { bins: options.bins });
  } finally {
    await engine.close();
  }
}

/** `pca --engine …`: the basis, and its coefficient range when asked for. */
export async function enginePca(
  spec: string,
  options: { where?: string; range: boolean },
  note: (s: string | null) => void,
): Promise<{ plan: SelectionPlan; basis: PcaBasis; range: [number, number] | null }> {
  const { target, plan } = await plannedOn(spec, options, note);
  const engine = clickhouseEngine(target);
  try {
    const { basis } = await sqlBasis(engine, plan);
    return { plan, basis, range: options.range ? await sqlRange(engine, plan, basis) : null };
  } finally {
    await engine.close();
  }
}

/**
 * `cohorts --engine …`: planned on the layers stored there, the aggregate passes run there
 * (sql-cohorts.ts); `notes` gets the plan (for the CLI's notes on what it left out).
 */
export async function engineCohorts(
  spec: string,
  options: { by: string; where?: string; correlate?: string },
  notes: (plan: CohortPlan) => void,
): Promise<SqlCohortsResult> {
  const target = engineTarget(spec);
  const layerDb = await clickhouseLayerDb(target);
  let plan: CohortPlan;
  let stored: Map<number, number>;
  try {
    plan = await planCohorts(layerDb.connection, options);
    stored = new Map(
      (await queryRows(layerDb.connection, STORED_ORTHOGONALITY_SQL)).map((r) => [
        Number(r.layer_id),
        Number(r.orthogonality),
      ]),
    );
  } finally {
    layerDb.close();
  }
  notes(plan);
  const engine = clickhouseEngine(target);
  try {
    return await sqlCohorts(engine, plan, { orthogonality: stored });
  } finally {
    await engine.close();
  }
}
