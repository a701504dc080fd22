/**
 * Node-only: the cohorts endpoint — `filterdb cohorts` over the server's database (store/cohort-scan.ts): per
 * model and depth bin metrics, the divergence between cohorts by depth, correlations. `by` and `correlate` are
 * layer_info columns (no free SQL there); `where` is checked like the SQL endpoint's before it runs. The
 * filters are streamed from the file layer by layer, one job at a time (serial.ts); `signal` stops the scan
 * between chunks when the client leaves or the request's deadline passes.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import { type CohortsResult, cohortsJson } from '../analysis/cohorts.js';
import { type CohortPlan, planCohorts, storeCohorts } from '../scan/cohort-scan.js';
import { isKernel3x3, kernelLabel } from '../scan/kernel-size.js';
import { noFiltersMessage, SelectionError, TooManyGroupsError } from '../scan/selection.js';
import { HttpError } from './http.js';
import { kernelParam } from './kernel-param.js';
import { checkSelect, layerInfoColumns } from './queries.js';
import { serial } from './serial.js';

export type CohortsAnswer = CohortsResult & {
  /** Selected layers left out because their weights hold NaN or infinite values. */
  nonFinite: { layers: number; filters: number };
  seconds: number;
};

async function column(con: DuckDBConnection, value: unknown, what: string): Promise<string> {
  if (typeof value !== 'string' || !value.trim())
    throw new HttpError(400, 'bad-request', `"${what}" must be a column name`);
  const columns = await layerInfoColumns(con);
  const found =
    columns.find((c) => c === value) ?? columns.find((c) => c.toLowerCase() === value.toLowerCase());
  if (!found)
    throw new HttpError(
      400,
      'unknown-column',
      `"${what}": ${JSON.stringify(value)} is not a column of layer_info`,
    );
  return found;
}

export async function cohorts(
  con: DuckDBConnection,
  dbPath: string,
  body: Record<string, unknown>,
  signal?: AbortSignal,
): Promise<CohortsAnswer> {
  const t0 = performance.now();
  const kernel = kernelParam(body.kernel);
  const by = await column(con, body.by, 'by');
  const correlate =
    body.correlate === undefined || body.correlate === null || body.correlate === ''
      ? null
      : await column(con, body.correlate, 'correlate');
  let where: string | null = null;
  if (body.where !== undefined && body.where !== null && body.where !== '') {
    if (typeof body.where !== 'string') throw new HttpError(400, 'bad-request', '"where" must be a string');
    where = body.where;
    await checkSelect(con, `SELECT 1 FROM layer_info WHERE (${where})`, 'where');
  }
  let plan: CohortPlan;
  let result: CohortsResult;
  try {
    plan = await planCohorts(con, { by, where, correlate, kernel });
    if (plan.filterCount === 0 && !isKernel3x3(kernel))
      throw new HttpError(400, 'empty-selection', await noFiltersMessage(con, { kernel, where }));
    result = await serial(() => {
      signal?.throwIfAborted(); // the client left, or the deadline passed, while it waited its turn
      return storeCohorts(dbPath, plan, { signal });
    });
  } catch (e) {
    if (e instanceof TooManyGroupsError) throw new HttpError(400, 'too-many-groups', e.message);
    if (e instanceof SelectionError) throw new HttpError(400, 'bad-request', e.message);
    throw e;
  }
  const { by: grouping, ...rest } = cohortsJson(result);
  return {
    by: grouping,
    ...(isKernel3x3(kernel) ? {} : { kernel: kernelLabel(kernel) }),
    ...rest,
    nonFinite: plan.nonFinite,
    seconds: (performance.now() - t0) / 1000,
  };
}
