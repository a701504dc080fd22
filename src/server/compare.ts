/**
 * Node-only: the compare endpoint — distribution shift between groups of stored 3×3 filters (a grouping
 * column, `depth`, `model`, or two or more SQL selections), with ridge-plot KDEs and the eigen-images of the
 * basis. The selected filters are read once into memory per group (bounded by `maxFilters`) and the
 * analysis (analysis/shift.ts via report/zoo-report.ts's `zooReportData`) runs its passes over them.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import { depthDecile, NONE_GROUP } from '../analysis/groups.js';
import type { BatchSource, FilterBatch } from '../analysis/shift.js';
import { zooReportData } from '../report/zoo-report.js';
import { ident } from '../store/db.js';
import { HttpError } from './http.js';
import { checkSelect, layerInfoColumns, sqlMessage } from './queries.js';

export interface CompareRequest {
  /** A layer_info column (e.g. "Task"), "depth" (conv_depth_norm deciles) or "model". */
  by?: string;
  /** Optional SQL condition on layer_info restricting the filters (with `by`). */
  where?: string;
  /** Two or more named selections, each a SQL condition on layer_info (instead of `by`). */
  selections?: { label: string; where: string }[];
  /** Histogram bins of the drift (default 70). */
  bins?: number;
}

export interface CompareAnswer {
  by: string;
  groups: string[];
  counts: number[];
  matrix: number[][];
  explainedVarianceRatio: number[];
  components: number[][];
  range: [number, number] | null;
  bins: number | null;
  filterCount: number;
  summary: unknown;
  /** KDE curves per coefficient, one curve per group (x, y rounded to 5 significant digits). */
  ridges: { index: number; curves: { label: string; x: number[]; y: number[]; n?: number }[] }[];
  seconds: number;
}

/** Growable per-group filter store. */
class GroupBuffer {
  data = new Float32Array(9 * 4096);
  count = 0;
  push(row: readonly unknown[], from: number): void {
    if ((this.count + 1) * 9 > this.data.length) {
      const next = new Float32Array(this.data.length * 2);
      next.set(this.data);
      this.data = next;
    }
    const o = this.count * 9;
    for (let i = 0; i < 9; i++) this.data[o + i] = Number(row[from + i]);
    this.count++;
  }
}

function round(values: ArrayLike<number>): number[] {
  return Array.from(values, (v) => (Number.isFinite(v) ? Number(v.toPrecision(5)) : 0));
}

function validBody(body: Record<string, unknown>): CompareRequest {
  const req: CompareRequest = {};
  if (body.by !== undefined) {
    if (typeof body.by !== 'string' || !body.by)
      throw new HttpError(400, 'bad-request', '"by" must be a column name');
    req.by = body.by;
  }
  if (body.where !== undefined && body.where !== null && body.where !== '') {
    if (typeof body.where !== 'string') throw new HttpError(400, 'bad-request', '"where" must be a string');
    req.where = body.where;
  }
  if (body.selections !== undefined) {
    if (!Array.isArray(body.selections) || body.selections.length < 2)
      throw new HttpError(400, 'bad-request', '"selections" must be a list of at least two {label, where}');
    req.selections = body.selections.map((s, i) => {
      const sel = s as { label?: unknown; where?: unknown };
      if (!sel || typeof sel.where !== 'string' || !sel.where.trim())
        throw new HttpError(400, 'bad-request', `selection ${i + 1} needs a "where" condition`);
      const label =
        typeof sel.label === 'string' && sel.label.trim() ? sel.label.trim() : String.fromCharCode(65 + i);
      return { label, where: sel.where };
    });
    if (new Set(req.selections.map((s) => s.label)).size !== req.selections.length)
      throw new HttpError(400, 'bad-request', 'selection labels must differ');
  }
  if (!req.by === !req.selections)
    throw new HttpError(
      400,
      'bad-request',
      'give either "by" (a grouping) or "selections" (two SQL conditions)',
    );
  if (body.bins !== undefined) {
    const b = Number(body.bins);
    if (!Number.isInteger(b) || b < 2 || b > 1000)
      throw new HttpError(400, 'bad-request', '"bins" must be 2..1000');
    req.bins = b;
  }
  return req;
}

export async function compare(
  con: DuckDBConnection,
  body: Record<string, unknown>,
  maxFilters: number,
): Promise<CompareAnswer> {
  const t0 = performance.now();
  const req = validBody(body);
  const groups = new Map<string, GroupBuffer>();
  const W = 'f.w0, f.w1, f.w2, f.w3, f.w4, f.w5, f.w6, f.w7, f.w8';
  let total = 0;
  const collect = async (sql: string, what: string, label: (row: unknown[]) => string) => {
    await checkSelect(con, sql, what);
    let result: Awaited<ReturnType<DuckDBConnection['stream']>>;
    try {
      result = await con.stream(sql);
      for await (const rows of result.yieldRowsJs()) {
        for (const row of rows) {
          if (++total > maxFilters)
            throw new HttpError(
              413,
              'too-many-filters',
              `the selection holds more than ${maxFilters.toLocaleString('en-US')} filters; narrow it with a "where" condition`,
            );
          const g = label(row);
          let buf = groups.get(g);
          if (!buf) {
            buf = new GroupBuffer();
            groups.set(g, buf);
          }
          buf.push(row, 1);
        }
      }
    } catch (e) {
      if (e instanceof HttpError) throw e;
      throw new HttpError(400, 'bad-sql', `SQL error in ${what}: ${sqlMessage(e)}`);
    }
  };
  const from = (where: string | undefined) =>
    `FROM (SELECT * FROM layer_info ${where ? `WHERE (${where})` : ''}) l JOIN filters f ON f.layer_id = l.layer_id`;
  let by: string;
  if (req.selections) {
    by = 'selection';
    for (const s of req.selections) {
      await collect(`SELECT NULL AS g, ${W} ${from(s.where)}`, `selection "${s.label}"`, () => s.label);
    }
  } else {
    by = req.by!;
    if (by === 'depth') {
      await collect(`SELECT l.conv_depth_norm AS g, ${W} ${from(req.where)}`, 'where', (r) =>
        r[0] === null ? NONE_GROUP : (depthDecile(Number(r[0])) ?? NONE_GROUP),
      );
    } else {
      const columns = await layerInfoColumns(con);
      const column =
        columns.find((c) => c === by) ?? columns.find((c) => c.toLowerCase() === by.toLowerCase());
      if (!column)
        throw new HttpError(
          400,
          'unknown-column',
          `cannot group by ${JSON.stringify(by)}: not a column of layer_info (try depth, model, or a metadata column)`,
        );
      by = column;
      await collect(`SELECT l.${ident(column)} AS g, ${W} ${from(req.where)}`, 'where', (r) =>
        r[0] === null || r[0] === undefined ? NONE_GROUP : String(r[0]),
      );
    }
  }
  if (total === 0) throw new HttpError(400, 'empty-selection', 'the selection holds no 3×3 filters');
  const source: BatchSource = async function* () {
    for (const [group, buf] of groups) {
      // batches of 64k filters keep the scratch buffers of the analysis small
      for (let i = 0; i < buf.count; i += 65536) {
        const n = Math.min(65536, buf.count - i);
        const batch: FilterBatch = { group, filters: buf.data.subarray(i * 9, (i + n) * 9), count: n };
        yield batch;
      }
    }
  };
  const data = await zooReportData(
    { models: [], groupings: [{ by, source }] },
    { bins: req.bins ?? 70, density: false, kdeBins: 1024, kdePoints: 256 },
  );
  const shift = data.shifts[0];
  return {
    by,
    groups: shift.groups,
    counts: shift.counts,
    matrix: shift.matrix,
    explainedVarianceRatio: shift.explainedVarianceRatio,
    components: shift.components,
    range: shift.range ?? null,
    bins: shift.bins ?? null,
    filterCount: shift.filterCount,
    summary: shift.summary ?? null,
    ridges: (data.ridges?.[0]?.coefficients ?? []).map((c) => ({
      index: c.index,
      curves: c.curves.map((k) => ({ label: k.label, x: round(k.x), y: round(k.y), n: k.n })),
    })),
    seconds: (performance.now() - t0) / 1000,
  };
}
