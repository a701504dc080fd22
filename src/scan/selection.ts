/**
 * Node-only: filter selections and groupings over the store, planned into layers.
 *
 * A selection is `--where <SQL on layer_info>` (model, Task, kind, conv_depth_norm, …); a grouping is
 * `--by <meta column | depth | model | layer-kind | SQL expression on layer_info>`, evaluated once per layer
 * (layers are the unit of every such grouping: they own filter_ids first_filter_id .. +filter_count). NULL →
 * `(none)`; depth → depthDecile(conv_depth_norm) labels. One grouping is per filter: `pattern`, each
 * depthwise kernel's stored atlas label (`kernel_pattern`), `(none)` for the filters of other layers.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import { compareCodePoints, depthDecile, NONE_GROUP } from '../analysis/groups.js';
import type { LayerStats } from '../analysis/layer-stats.js';
import { ident, queryRows } from '../store/db.js';
import { readKernelLabels } from '../store/kernel-pattern.js';
import { readLayerStats } from '../store/layer-stats.js';
import { hasKernelPattern } from '../store/schema.js';
import {
  isKernel3x3,
  KERNEL_3X3,
  type KernelSize,
  kernelLabel,
  storedLayersCondition,
} from './kernel-size.js';

/** Groupings with a meaning of their own (anything else is a layer_info column or an SQL expression). */
export const SPECIAL_GROUPINGS = ['depth', 'model', 'layer-kind', 'pattern'] as const;

/** The per-filter grouping: the depthwise kernel atlas label of each filter (store/kernel-pattern.ts). */
export const PATTERN_GROUPING = 'pattern';

export interface LayerPlan {
  layerId: number;
  modelId: number;
  first: number;
  count: number;
  /** Group label (only when planned with a grouping). */
  group: string;
  /**
   * A per-filter grouping (`pattern`): the label of each of the layer's filters, in filter_id order; `group`
   * is then unused.
   */
  filterGroups?: string[];
}

export interface SelectionPlan {
  where: string | null;
  /** The filters' kernel size (`--kernel`; 3x3 unless given): which stored filters the plan selects. */
  kernel: KernelSize;
  by: string | null;
  layers: LayerPlan[];
  /** Sorted distinct group labels (code-point order). */
  groups: string[];
  filterCount: number;
  /** Largest layer_id + 1. */
  layerSpan: number;
  /**
   * Layers of the selection left out because their weights hold NaN or infinite values (`non_finite` > 0,
   * counted at ingest): such filters cannot be peak-scaled, and one of them would make every moment NaN.
   */
  nonFinite: { layers: number; filters: number };
  /**
   * The stored statistics of every planned layer (store/layer-stats.ts), or null when some have none (a
   * database from before them, not yet upgraded, or a kernel size other than 3x3, which has none): the
   * basis is then fitted by a scan.
   */
  stats: Map<number, LayerStats> | null;
}

/** A bad --where / --by (exit 2 in the CLI). */
export class SelectionError extends RangeError {}

/** A grouping into more than {@link MAX_GROUPS} groups. */
export class TooManyGroupsError extends SelectionError {}

/**
 * Most groups one shift compares: the drift matrix and its KL sums grow with the square of the count (4096
 * groups: 16.8 M pairs, 134 MB of matrix, ~10 G multiply-adds), the per-group histograms linearly. Every
 * grouping of the paper has far fewer (the published zoo has ~1,500 models); past this a grouping is a
 * mistake such as `--by layer_id` on a large database, refused before anything is allocated.
 */
export const MAX_GROUPS = 4096;

/** The SQL expression (over layer_info) of a grouping, or 'depth'. */
export async function groupingExpression(con: DuckDBConnection, by: string): Promise<string> {
  if (by === 'depth') return 'conv_depth_norm';
  if (by === 'model') return 'model_id';
  if (by === 'layer-kind') return 'kind';
  const cols = await queryRows(
    con,
    "SELECT column_name FROM information_schema.columns WHERE table_name = 'layer_info' ORDER BY ordinal_position",
  );
  const names = cols.map((r) => String(r.column_name));
  const exact = names.find((c) => c === by) ?? names.find((c) => c.toLowerCase() === by.toLowerCase());
  return exact ? ident(exact) : `(${by})`;
}

/**
 * The stored layers of `kernel` (kernel-size.ts: 3x3 filters in `filters`, other sizes in `filters_other`;
 * transposed convolutions left out) matching `where`, in filter_id order: the given layer_info `columns` and
 * `non_finite` (true when the layer's weights hold NaN or infinite values).
 */
export async function storedLayers(
  con: DuckDBConnection,
  columns: string,
  where: string | null,
  kernel: KernelSize = KERNEL_3X3,
): Promise<Record<string, unknown>[]> {
  try {
    return await queryRows(
      con,
      `SELECT ${columns}, coalesce(non_finite, 0) > 0 AS non_finite
       FROM layer_info
       WHERE ${storedLayersCondition(kernel)}
         ${where !== null ? `AND (${where})` : ''}
       ORDER BY first_filter_id`,
    );
  } catch (e) {
    throw new SelectionError(`cannot evaluate the selection: ${firstLine(e)}`);
  }
}

/** Refuses a `--where` that is not a valid condition on layer_info (SelectionError naming it). */
export async function checkWhere(con: DuckDBConnection, where: string): Promise<void> {
  try {
    await con.runAndReadAll(`SELECT 1 FROM layer_info WHERE (${where}) LIMIT 0`);
  } catch (e) {
    throw new SelectionError(
      `--where ${JSON.stringify(where)} is not valid SQL on layer_info: ${firstLine(e)}`,
    );
  }
}

/**
 * One group label per stored model, for `--by model`: models are grouped by id, never merged by name. A name
 * several models share gets its format (`embedding_model (onnx)`, `embedding_model (tflite)`), and the id too
 * when that is still not unique (`digits_cnn (onnx, id 4)`).
 */
export async function modelLabels(con: DuckDBConnection): Promise<Map<number, string>> {
  const rows = await queryRows(con, 'SELECT model_id, name, format FROM models ORDER BY model_id');
  const count = (key: (r: Record<string, unknown>) => string) => {
    const n = new Map<string, number>();
    for (const r of rows) n.set(key(r), (n.get(key(r)) ?? 0) + 1);
    return n;
  };
  const byName = count((r) => String(r.name));
  const byNameFormat = count((r) => `${r.name}\u0000${r.format}`);
  const labels = new Map<number, string>();
  for (const r of rows) {
    const name = String(r.name);
    const format = r.format === null || r.format === undefined ? 'unknown format' : String(r.format);
    let label = name;
    if (byName.get(name)! > 1)
      label =
        byNameFormat.get(`${r.name}\u0000${r.format}`)! > 1
          ? `${name} (${format}, id ${r.model_id})`
          : `${name} (${format})`;
    labels.set(Number(r.model_id), label);
  }
  return labels;
}

export function firstLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split('\n')[0];
}

/**
 * Resolves the selection and grouping into layers (small: one row per layer). Only filters of non-transposed
 * convolutions of one kernel size are selected (3x3 unless `kernel` says: the `filters` table, as the paper).
 */
export async function planSelection(
  con: DuckDBConnection,
  options: {
    where?: string | null;
    by?: string | null;
    maxGroups?: number;
    /** Read the layers' stored statistics (default true; several groupings of one selection share them). */
    stats?: boolean;
    /** Kernel size of the selected filters (default 3x3). */
    kernel?: KernelSize;
  },
): Promise<SelectionPlan> {
  const maxGroups = options.maxGroups ?? MAX_GROUPS;
  const where = options.where?.trim() || null;
  const by = options.by?.trim() || null;
  let groupSql = 'NULL';
  const perFilter = by === PATTERN_GROUPING;
  const kernel = options.kernel ?? KERNEL_3X3;
  if (perFilter) refusePatternKernel(kernel);
  if (perFilter && !(await hasKernelPattern(con)))
    throw new SelectionError(
      '--by pattern reads the depthwise kernel labels of the kernel_pattern table, which this database (built before it) lacks: open it for writing once (`filterdb upgrade --db …` adds and fills it)',
    );
  if (by !== null && !perFilter) {
    const expr = await groupingExpression(con, by);
    groupSql = by === 'depth' || by === 'model' ? expr : `CAST(${expr} AS VARCHAR)`;
    try {
      await con.runAndReadAll(`SELECT ${groupSql} FROM layer_info LIMIT 0`);
    } catch (e) {
      throw new SelectionError(
        `--by ${JSON.stringify(by)} is neither a column of layer_info (see \`filterdb sql --db … "DESCRIBE layer_info"\`), depth, model, layer-kind, pattern, nor a valid SQL expression on layer_info: ${firstLine(e)}`,
      );
    }
  }
  if (where !== null) await checkWhere(con, where);
  const rows = await storedLayers(
    con,
    `layer_id, model_id, first_filter_id, filter_count, ${groupSql} AS g`,
    where,
    kernel,
  );
  const labels = by === 'model' ? await modelLabels(con) : null;
  const kernelLabels = perFilter
    ? await readKernelLabels(
        con,
        rows.map((r) => Number(r.layer_id)),
      )
    : null;
  const layers: LayerPlan[] = [];
  const groups = new Set<string>();
  let filterCount = 0;
  let layerSpan = 0;
  const nonFinite = { layers: 0, filters: 0 };
  for (const r of rows) {
    if (r.non_finite === true) {
      nonFinite.layers++;
      nonFinite.filters += Number(r.filter_count);
      continue;
    }
    let group = '';
    let filterGroups: string[] | undefined;
    if (kernelLabels) {
      filterGroups = completeLabels(kernelLabels.get(Number(r.layer_id)), Number(r.filter_count));
      if (filterGroups) for (const g of new Set(filterGroups)) groups.add(g);
      else {
        group = NONE_GROUP;
        groups.add(group);
      }
    } else if (by !== null) {
      const g = r.g;
      if (by === 'depth') group = (typeof g === 'number' ? depthDecile(g) : null) ?? NONE_GROUP;
      else if (labels) group = labels.get(Number(g)) ?? NONE_GROUP;
      else group = g === null || g === undefined ? NONE_GROUP : String(g);
      groups.add(group);
    }
    const layer: LayerPlan = {
      layerId: Number(r.layer_id),
      modelId: Number(r.model_id),
      first: Number(r.first_filter_id),
      count: Number(r.filter_count),
      group,
    };
    if (filterGroups) layer.filterGroups = filterGroups;
    filterCount += layer.count;
    layerSpan = Math.max(layerSpan, layer.layerId + 1);
    layers.push(layer);
  }
  if (groups.size > maxGroups)
    throw new TooManyGroupsError(
      `grouping by ${by} gives ${groups.size.toLocaleString('en-US')} groups; at most ${maxGroups.toLocaleString('en-US')} can be compared (the drift matrix grows with their square): group more coarsely or narrow the selection`,
    );
  // layer statistics are stored for 3x3 layers only
  const stats =
    options.stats === false || !isKernel3x3(kernel)
      ? null
      : await readLayerStats(con, new Set(layers.map((l) => l.layerId)));
  return {
    where,
    by,
    kernel,
    stats,
    layers,
    groups: [...groups].sort(compareCodePoints),
    filterCount,
    layerSpan,
    nonFinite,
  };
}

/**
 * `--by pattern` groups 3x3 depthwise kernels by their atlas label (`kernel_pattern`); other kernel sizes have
 * no labels (and their passes, kxk-passes.ts, no per-filter groups): refused with a SelectionError.
 */
export function refusePatternKernel(kernel: KernelSize): void {
  if (!isKernel3x3(kernel))
    throw new SelectionError(
      `--by pattern groups 3x3 depthwise kernels by their atlas label; ${kernelLabel(kernel)} filters have none (use --by pattern without --kernel, or another grouping)`,
    );
}

/** A layer's stored kernel labels when there is one for each of its `count` filters, else undefined. */
function completeLabels(labels: string[] | undefined, count: number): string[] | undefined {
  if (!labels || labels.length !== count) return undefined;
  for (let i = 0; i < count; i++) if (labels[i] === undefined) return undefined;
  return labels;
}

/** A note on the layers a plan left out for NaN or infinite weights, or null when there were none. */
export function nonFiniteNote(plan: SelectionPlan): string | null {
  const { layers, filters } = plan.nonFinite;
  if (layers === 0) return null;
  return `left out ${layers} layer${layers === 1 ? '' : 's'} (${filters.toLocaleString('en-US')} filters) whose weights hold NaN or infinite values (layer_info.non_finite > 0): they cannot be peak-scaled`;
}

/** Kernel sizes with stored filters (of non-transposed convolutions) and their filter counts, largest first. */
export async function storedKernelSizes(
  con: DuckDBConnection,
): Promise<{ kernel: KernelSize; filters: number }[]> {
  const rows = await queryRows(
    con,
    `SELECT kh, kw, CAST(sum(filter_count) AS DOUBLE) AS n FROM layers
     WHERE filter_table IS NOT NULL AND filter_count > 0 AND coalesce(kind, '') <> 'transposed'
     GROUP BY kh, kw ORDER BY n DESC, kh, kw`,
  );
  return rows.map((r) => ({ kernel: { kh: Number(r.kh), kw: Number(r.kw) }, filters: Number(r.n) }));
}

/**
 * Why a plan selected no filters, for the error message: the selection, and which kernel sizes the database
 * does store (other sizes than 3x3 only with `ingest --kernel all`).
 */
export async function noFiltersMessage(
  con: DuckDBConnection,
  plan: { kernel: KernelSize; where: string | null },
): Promise<string> {
  const label = kernelLabel(plan.kernel);
  const sizes = await storedKernelSizes(con);
  const stored = sizes
    .map((s) => `${kernelLabel(s.kernel)}: ${s.filters.toLocaleString('en-US')}`)
    .join(', ');
  const has = sizes.some((s) => kernelLabel(s.kernel) === label);
  const why = plan.where && has ? ` by --where ${plan.where}` : '';
  const hint = !has
    ? sizes.length === 0
      ? '; the database stores no filters'
      : `; the database stores filters of ${stored}${isKernel3x3(plan.kernel) ? '' : ` (other kernel sizes than 3x3 are stored by \`ingest --kernel all\`)`}`
    : '';
  return `no ${label} filters selected${why}${hint}`;
}
