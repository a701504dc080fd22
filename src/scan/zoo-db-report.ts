/**
 * Node-only: the zoo report of a filter database (`filterdb report --db`, and the server's
 * `GET /api/report.html`): planned on an open connection (models table, one selection per metadata column +
 * depth + model, optional cohorts), then scanned from the file in three streamed passes and rendered.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import type { CohortsResult } from '../analysis/cohorts.js';
import { groupKdes } from '../analysis/kde.js';
import { FilterDbError } from '../errors.js';
import { renderZooReport, type ZooModel, type ZooRidges } from '../report/zoo-report.js';
import { type StoredAtlas, type StoredEnergy, storedAtlas, storedEnergy } from '../store/atlas-energy.js';
import { queryRows } from '../store/db.js';
import type { SkippedLayer } from '../store/depthwise-read.js';
import { modelHealth, type StoredModelHealth } from '../store/health.js';
import { storeZooAnalysis } from './analyses.js';
import { type CohortPlan, planCohorts, storeCohorts } from './cohort-scan.js';
import {
  isKernel3x3,
  KERNEL_3X3,
  type KernelSize,
  kernelLabel,
  storedLayersCondition,
} from './kernel-size.js';
import { planSelection, type SelectionPlan, TooManyGroupsError } from './selection.js';

export interface ZooReportPlan {
  models: ZooModel[];
  metaColumns: string[];
  /** One selection per grouping: every metadata column that is a grouping, depth, model. */
  plans: SelectionPlan[];
  cohortPlan: CohortPlan | null;
  /** The kernel size of the filters analysed (3x3 unless `report --kernel`). */
  kernel: KernelSize;
  /** The depthwise kernel atlas and the first-layer energy profiles of the stored models. */
  atlas: StoredAtlas;
  energy: StoredEnergy;
}

/** A model's verdict counts for the zoo report (`degenerated` null when no layer was assessed). */
function zooHealth(
  h: StoredModelHealth | undefined,
): Pick<ZooModel, 'degenerated' | 'notAssessed' | 'orthogonalityNotMeasured'> {
  if (!h) return { degenerated: null, notAssessed: 0, orthogonalityNotMeasured: 0 };
  return {
    degenerated: h.notAssessed === h.layers ? null : h.degenerated,
    notAssessed: h.notAssessed,
    orthogonalityNotMeasured: h.orthogonalityNotMeasured,
  };
}

/** Reads the models table and plans the groupings (and cohorts) on `con`. */
export async function planZooReport(
  con: DuckDBConnection,
  options: {
    cohortsBy?: string;
    correlate?: string;
    kernel?: KernelSize;
    onNote?: (note: string) => void;
  } = {},
): Promise<ZooReportPlan> {
  const kernel = options.kernel ?? KERNEL_3X3;
  const cols = await queryRows(
    con,
    "SELECT column_name FROM information_schema.columns WHERE table_name = 'model_info' ORDER BY ordinal_position",
  );
  const base = new Set(['model_id', 'model', 'file', 'format', 'producer']);
  const metaColumns = cols.map((r) => String(r.column_name)).filter((c) => !base.has(c));
  // schema-1 files opened read-only lack the layer diagnostics columns
  const diag =
    (
      await queryRows(
        con,
        "SELECT 1 FROM information_schema.columns WHERE table_name = 'layers' AND column_name = 'near_init'",
      )
    ).length > 0;
  const rows = await queryRows(
    con,
    `SELECT mi.*, coalesce(l.layers, 0) AS n_layers, coalesce(l.filters, 0) AS n_filters
       ${diag ? ', l.training AS n_training, l.near AS n_near' : ''}
     FROM model_info mi LEFT JOIN (
       SELECT model_id, count(*) AS layers,
         sum(CASE WHEN ${storedLayersCondition(kernel)} THEN filter_count ELSE 0 END) AS filters
         ${
           diag
             ? `, sum(CASE WHEN training_flags IS NULL THEN NULL WHEN len(training_flags) > 0 THEN 1 ELSE 0 END) AS training,
         sum(CASE WHEN near_init IS NULL THEN NULL WHEN near_init THEN 1 ELSE 0 END) AS near`
             : ''
         }
       FROM layers GROUP BY model_id) l USING (model_id)
     ORDER BY mi.model_id`,
  );
  const health = await modelHealth(con);
  const models = rows.map((r) => ({
    name: String(r.model),
    format: (r.format as string | null) ?? null,
    layers: Number(r.n_layers),
    filters: Number(r.n_filters),
    ...zooHealth(health.get(Number(r.model_id))),
    trainingWarnings: r.n_training === null || r.n_training === undefined ? null : Number(r.n_training),
    nearInit: r.n_near === null || r.n_near === undefined ? null : Number(r.n_near),
    meta: Object.fromEntries(metaColumns.map((c) => [c, r[c] as string | number | null])),
  }));
  const plans: SelectionPlan[] = [];
  for (const by of [...metaColumns, 'depth', 'model']) {
    try {
      plans.push(await planSelection(con, { by, kernel }));
    } catch (e) {
      // a column with a value per layer (say, a file hash) is no grouping: the report goes on without it
      if (!(e instanceof TooManyGroupsError)) throw e;
      options.onNote?.(`report: no drift section by ${by}: ${e.message}`);
    }
  }
  const cohortPlan =
    options.cohortsBy !== undefined
      ? await planCohorts(con, { by: options.cohortsBy, correlate: options.correlate ?? null, kernel })
      : null;
  const atlas = await storedAtlas(con);
  const energy = await storedEnergy(con);
  return { models, metaColumns, plans, cohortPlan, kernel, atlas, energy };
}

export interface ZooReportRun {
  /** Share the scans with this thread (the CLI; a server keeps its thread free). */
  shareThisThread?: boolean;
  /** Filters scanned so far over the three passes of the groupings. */
  onProgress?: (n: number) => void;
  /** A progress reporter for the cohort scan of `total` filters. */
  cohortProgress?: (total: number) => { onProgress: (n: number, pass: string) => void; stop(): void };
  signal?: AbortSignal;
}

/** Scans the planned groupings from the database file at `dbPath` and renders the report. */
export async function zooReportFromPlan(
  dbPath: string,
  plan: ZooReportPlan,
  run: ZooReportRun = {},
): Promise<{ html: string; models: number; filterCount: number }> {
  const { plans, models, metaColumns, cohortPlan, kernel } = plan;
  if (plans.length === 0 || plans[0].filterCount < 2)
    throw new FilterDbError(
      'unsupported',
      dbPath,
      `holds fewer than 2 ${kernelLabel(kernel)} filters: nothing to analyse${isKernel3x3(kernel) ? '' : ' (other kernel sizes than 3x3 are stored by `ingest --kernel all`)'}`,
    );
  let base = 0;
  let last = '';
  const ridgeable = plans.filter((p) => p.by !== 'model' || p.groups.length <= 12).map((p) => p.by!);
  const a = await storeZooAnalysis(dbPath, plans, {
    ridges: ridgeable,
    shareThisThread: run.shareThisThread,
    signal: run.signal,
    onProgress: (n, pass) => {
      if (pass !== last) {
        if (last) base += plans[0].filterCount;
        last = pass;
      }
      run.onProgress?.(base + n);
    },
  });
  let cohorts: CohortsResult | undefined;
  if (cohortPlan) {
    const bar = run.cohortProgress?.(cohortPlan.filterCount);
    cohorts = await storeCohorts(dbPath, cohortPlan, { onProgress: bar?.onProgress, signal: run.signal });
    bar?.stop();
  }
  const ridges: ZooRidges[] = [];
  for (const [by, hist] of a.fine) {
    const groups = a.shifts.find((s) => s.by === by)?.groups;
    ridges.push({
      by,
      coefficients: Array.from({ length: hist.dims }, (_, c) => ({
        index: c,
        curves: groupKdes(hist, c, { groups, points: 1024 }).map((k) => ({
          label: k.group,
          x: k.x,
          y: k.y,
          n: k.n,
        })),
      })),
    });
  }
  const name = dbPath.split(/[\\/]/).pop() ?? dbPath;
  const html = renderZooReport({
    title: `Filter database ${name}${isKernel3x3(kernel) ? '' : `: ${kernelLabel(kernel)} filters`}`,
    kernel: [kernel.kh, kernel.kw],
    source: dbPath,
    models,
    metaColumns,
    shifts: a.shifts.map(({ histograms: _h, ...s }) => s),
    ridges,
    cohorts,
    atlas: plan.atlas.view
      ? { view: plan.atlas.view, models: plan.atlas.models, note: skippedNote(plan.atlas.skipped) }
      : undefined,
    energy: plan.energy.models.length
      ? {
          models: plan.energy.models,
          correlation: plan.energy.correlation,
          note: skippedNote(plan.energy.skipped),
        }
      : undefined,
    density: a.density
      ? {
          counts: a.density.counts,
          nx: a.density.spec.size,
          ny: a.density.spec.size,
          x: [a.density.spec.lo, a.density.spec.hi],
          y: [a.density.spec.lo, a.density.spec.hi],
          outside: a.density.outside,
          xIndex: a.density.spec.xIndex,
          yIndex: a.density.spec.yIndex,
          total: a.density.total,
        }
      : undefined,
  });
  return { html, models: models.length, filterCount: a.filterCount };
}

/** "2 layers skipped: a / b (reason), …" for a report section, or undefined. */
function skippedNote(skipped: SkippedLayer[]): string | undefined {
  if (!skipped.length) return undefined;
  const shown = skipped
    .slice(0, 5)
    .map((s) => `${s.model}${s.layer ? ` / ${s.layer}` : ''} (${s.reason})`)
    .join('; ');
  return `Skipped ${skipped.length}: ${shown}${skipped.length > 5 ? '; …' : ''}.`;
}
