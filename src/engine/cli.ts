/**
 * Node-only: the CLI's hook for `--engine clickhouse://host:port/db[?table=filters]` (shift, pca): the plan
 * from the layers stored there, the passes run there, the rest in-process. Credentials: in the URL
 * (user:password@) or FILTERDB_CLICKHOUSE_USER / FILTERDB_CLICKHOUSE_PASSWORD; never printed.
 */
import type { PcaBasis } from '../analysis/pca.js';
import { FilterDbError } from '../errors.js';
import { nonFiniteNote, type SelectionPlan } from '../scan/selection.js';
import { type ClickHouseTarget, clickhouseEngine, parseClickHouseUrl, redact } from './clickhouse.js';
import { planOnClickHouse } from './clickhouse-plan.js';
import { type SqlShiftResult, sqlBasis, sqlRange, sqlShift } from './sql-shift.js';

export function engineTarget(spec: string): ClickHouseTarget {
  if (!/^clickhouse:\/\//.test(spec))
    throw new FilterDbError('unsupported', redact(spec), 'is not a known engine (clickhouse://host:8123/db)');
  return parseClickHouseUrl(spec, { user: process.env.FILTERDB_CLICKHOUSE_USER });
}

async function plannedOn(
  spec: string,
  options: { where?: string; by?: string },
  note: (s: string | null) => void,
): Promise<{ target: ClickHouseTarget; plan: SelectionPlan }> {
  const target = engineTarget(spec);
  const plan = await planOnClickHouse(target, options);
  note(nonFiniteNote(plan));
  if (plan.filterCount === 0)
    throw new FilterDbError(
      'unsupported',
      redact(spec),
      `no 3x3 filters selected${plan.where ? ` by --where ${plan.where}` : ''}`,
    );
  return { target, plan };
}

/** `shift --engine …`. */
export async function engineShift(
  spec: string,
  options: { where?: string; by: string; bins: number },
  note: (s: string | null) => void,
): Promise<SqlShiftResult> {
  const { target, plan } = await plannedOn(spec, options, note);
  const engine = clickhouseEngine(target);
  try {
    return await sqlShift(engine, plan, { bins: options.bins });
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
