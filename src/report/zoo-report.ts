/**
 * The zoo report (many models, e.g. a filter database): models table, the zoo's filter basis, drift matrices
 * for every grouping (metadata column, depth, model), drift boxplots, ridge plots of coefficient KDEs, and the
 * 2-D coefficient density.
 *
 * It takes plain data (`ZooReportData`), so whoever holds the filters — the DuckDB store, dataset.h5, the web
 * app's worker — only supplies data. `zooReportData` computes that data from filter batch sources
 * (analysis/shift.ts `BatchSource`, one per grouping), streaming.
 */

import type { AtlasView } from '../analysis/atlas-view.js';
import { coefficientDistributions } from '../analysis/coefficients.js';
import type { CohortsResult } from '../analysis/cohorts.js';
import type { Density2dOptions } from '../analysis/density2d.js';
import { groupKdes } from '../analysis/kde.js';
import { type BatchSource, distributionShift, fitBasis, type ShiftResult } from '../analysis/shift.js';
import { atlasSection, atlasSharesTable, energySection, type ReportEnergy } from './atlas-section.js';
import { cohortSection } from './cohort-section.js';
import {
  cards,
  escapeHtml as esc,
  figure,
  figureRow,
  type HtmlSection,
  htmlTable,
  renderHtmlPage,
} from './html.js';
import { fmt, pct } from './svg/core.js';
import { type DensityGridData, densitySvg } from './svg/density.js';
import { driftBoxplotSvg, driftHeatmapSvg } from './svg/drift.js';
import { cumulativeVarianceSvg, eigenImagesSvg } from './svg/pca.js';
import { coefficientTitle, type RidgeCurve, ridgeGridSvg, ridgePlotSvg } from './svg/ridge.js';

/** The degenerated count, or "not measured" — never an empty cell that reads as zero. */
function degeneratedCell(m: ZooModel): { html: string; sort: number } | number | null {
  if (m.degenerated === undefined) return null;
  if (m.degenerated === null) return { html: 'not measured', sort: -1 };
  const missing = m.notAssessed ?? 0;
  return missing > 0
    ? { html: `${m.degenerated} <span class="muted">(${missing} not measured)</span>`, sort: m.degenerated }
    : m.degenerated;
}

export interface ZooModel {
  name: string;
  format?: string | null;
  /** Conv layers. */
  layers?: number | null;
  /** 2-D filters (e.g. 3×3 filters in the database). */
  filters?: number | null;
  /** Layers flagged as degenerated (metrics/flags.ts's definition); null when no layer was assessed. */
  degenerated?: number | null;
  /** Layers never assessed (no flags stored). */
  notAssessed?: number;
  /** Assessed layers whose orthogonality was not measured (shape unknown: dataset.h5). */
  orthogonalityNotMeasured?: number;
  /** Layers with a WeightWatcher over-/under-trained warning (null: spectral metrics not stored). */
  trainingWarnings?: number | null;
  /** Layers near their random initialisation (null: not computed). */
  nearInit?: number | null;
  /** Metadata columns (Task, Training, …). */
  meta?: Record<string, string | number | null | undefined>;
}

/** The part of a ShiftResult the report draws. */
export type ZooShift = Pick<
  ShiftResult,
  'by' | 'groups' | 'counts' | 'matrix' | 'explainedVarianceRatio' | 'components' | 'filterCount'
> &
  Partial<Pick<ShiftResult, 'summary' | 'range' | 'bins'>>;

export interface ZooRidges {
  /** The grouping (matches a ZooShift's `by`). */
  by: string;
  /** KDE curves per coefficient index (0-based), one curve per group. */
  coefficients: { index: number; curves: RidgeCurve[] }[];
}

export interface ZooReportData {
  title?: string;
  /** Where the data came from (database path), shown under the title. */
  source?: string;
  models: ZooModel[];
  /** Order of metadata columns in the models table (default: first-seen order over all models). */
  metaColumns?: string[];
  /** One shift analysis per grouping; all share one basis (the first one's is drawn). */
  shifts: ZooShift[];
  ridges?: ZooRidges[];
  /** Grouping drawn as ridge small multiples over all coefficients (default: the first with ridges and ≥ 2 groups). */
  ridgeGridBy?: string;
  density?: DensityGridData & { xIndex?: number; yIndex?: number; total?: number };
  /** The cohort study (`report --db … --cohorts COL`). */
  cohorts?: CohortsResult;
  /** Kernel size of the analysed filters, [kh, kw] (`report --db … --kernel`; default 3×3). */
  kernel?: [number, number];
  /** The depthwise kernel atlas over every model (`view`) and each model's shares; `note`: skipped layers. */
  atlas?: {
    view: AtlasView;
    models: { name: string; kernels: number; shares: AtlasView['shares'] }[];
    note?: string;
  };
  /** Each model's first-layer energy profile and their Pearson correlation matrix; `note`: skipped models. */
  energy?: { models: ReportEnergy[]; correlation: (number | null)[][]; note?: string };
  /** Footer date; null omits it (reproducible output). */
  generatedAt?: string | null;
}

/** Depth deciles read better in numeric order: "[0.0, 0.1]" first (code-point order puts it last). */
export function displayOrder(shift: ZooShift): ZooShift {
  const idx = shift.groups.map((_, i) => i);
  if (shift.groups.some((g) => g.startsWith('[')) && shift.groups.every((g) => /^[[(]\d/.test(g))) {
    idx.sort(
      (a, b) => Number.parseFloat(shift.groups[a].slice(1)) - Number.parseFloat(shift.groups[b].slice(1)),
    );
  }
  if (idx.every((v, i) => v === i)) return shift;
  return {
    ...shift,
    groups: idx.map((i) => shift.groups[i]),
    counts: idx.map((i) => shift.counts[i]),
    matrix: idx.map((a) => idx.map((b) => shift.matrix[a][b])),
  };
}

/** Groups with a natural order (depth deciles) get a sequential colour map. */
function isOrdered(s: ZooShift): boolean {
  return s.by === 'depth' || s.groups.every((g) => /^[[(]\d/.test(g));
}

function ridgeOrder(curves: RidgeCurve[], order: readonly string[]): RidgeCurve[] {
  const pos = new Map(order.map((g, i) => [g, i]));
  return [...curves].sort((a, b) => (pos.get(a.label) ?? 1e9) - (pos.get(b.label) ?? 1e9));
}

function maxPair(s: ZooShift): { a: string; b: string; v: number } | null {
  let best: { a: string; b: string; v: number } | null = null;
  for (let i = 0; i < s.groups.length; i++) {
    for (let j = i + 1; j < s.groups.length; j++) {
      const v = s.matrix[i][j];
      if (Number.isFinite(v) && (!best || v > best.v)) best = { a: s.groups[i], b: s.groups[j], v };
    }
  }
  return best;
}

function median(values: number[]): number | null {
  const v = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (!v.length) return null;
  const m = (v.length - 1) / 2;
  return (v[Math.floor(m)] + v[Math.ceil(m)]) / 2;
}

function upper(s: ZooShift): number[] {
  const out: number[] = [];
  for (let i = 0; i < s.groups.length; i++)
    for (let j = i + 1; j < s.groups.length; j++) out.push(s.matrix[i][j]);
  return out;
}

function sectionId(prefix: string, name: string): string {
  return `${prefix}-${
    name
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-|-$/g, '') || 'x'
  }`;
}

/** Renders the zoo report page (pure). */
export function renderZooReport(data: ZooReportData): string {
  const shifts = data.shifts.map(displayOrder);
  const sections: HtmlSection[] = [];
  const totalFilters = shifts[0]?.filterCount ?? data.models.reduce((s, m) => s + (m.filters ?? 0), 0);
  const [kh, kw] = data.kernel ?? [3, 3];
  const kernelText = `${kh}×${kw}`;

  // summary
  const lines: string[] = [];
  lines.push(
    `<p><strong>${data.models.length.toLocaleString('en-US')} models</strong> with ${totalFilters.toLocaleString('en-US')} ${kernelText} filters, compared along ${shifts.length} grouping${shifts.length === 1 ? '' : 's'}.</p>`,
  );
  const ranked = shifts
    .map((s) => ({ s, mp: maxPair(s), med: median(upper(s)) }))
    .filter((r) => r.mp)
    .sort((a, b) => (b.med ?? 0) - (a.med ?? 0));
  if (ranked.length) {
    const items = ranked.map(
      (r) =>
        `<li><strong>${esc(r.s.by)}</strong>: median drift ${esc(fmt(r.med))}; most different: ${esc(r.mp!.a)} vs ${esc(r.mp!.b)} (${esc(fmt(r.mp!.v))})</li>`,
    );
    lines.push(
      `<p>Filter distributions shift most along <strong>${esc(ranked[0].s.by)}</strong>.</p><ul>${items.join('')}</ul>`,
    );
  }
  const flagged = data.models.filter((m) => (m.degenerated ?? 0) > 0).length;
  if (data.models.some((m) => m.degenerated !== undefined && m.degenerated !== null)) {
    lines.push(`<p>${flagged} of ${data.models.length} models have at least one degenerated layer.</p>`);
  }
  const unassessed = data.models.filter((m) => (m.notAssessed ?? 0) > 0).length;
  if (unassessed)
    lines.push(
      `<p>${unassessed} model${unassessed === 1 ? ' has' : 's have'} layers whose metrics and flags were not measured (imported with --no-metrics): they are not counted as healthy.</p>`,
    );
  const noOrth = data.models.filter((m) => (m.orthogonalityNotMeasured ?? 0) > 0).length;
  if (noOrth)
    lines.push(
      `<p>Orthogonality was not measured for ${noOrth} model${noOrth === 1 ? '' : 's'} (dataset.h5 does not record layer shapes).</p>`,
    );

  // models
  const anyTraining = data.models.some(
    (m) => m.trainingWarnings !== undefined && m.trainingWarnings !== null,
  );
  const anyNear = data.models.some((m) => m.nearInit !== undefined && m.nearInit !== null);
  const metaCols = data.metaColumns ?? [...new Set(data.models.flatMap((m) => Object.keys(m.meta ?? {})))];
  sections.push({
    id: 'models',
    title: 'Models',
    intro: cards([
      { value: data.models.length.toLocaleString('en-US'), label: 'models' },
      { value: totalFilters.toLocaleString('en-US'), label: `${kernelText} filters` },
      { value: shifts.length, label: 'groupings compared' },
    ]),
    body: htmlTable(
      [
        { header: 'model', cls: 'name' },
        { header: 'format' },
        { header: 'layers', numeric: true },
        { header: 'filters', numeric: true },
        { header: 'degenerated', numeric: true, title: 'layers flagged as degenerated' },
        ...(anyTraining
          ? [
              {
                header: 'alpha ∉ [2, 6]',
                numeric: true,
                title: 'layers WeightWatcher calls over- or under-trained',
              },
            ]
          : []),
        ...(anyNear
          ? [{ header: 'near-init', numeric: true, title: 'layers near their random initialisation' }]
          : []),
        ...metaCols.map((c) => ({ header: c })),
      ],
      data.models.map((m) => [
        { html: esc(m.name), cls: 'name', sort: m.name },
        m.format ?? null,
        m.layers ?? null,
        m.filters ?? null,
        degeneratedCell(m),
        ...(anyTraining ? [m.trainingWarnings ?? null] : []),
        ...(anyNear ? [m.nearInit ?? null] : []),
        ...metaCols.map((c) => {
          const v = m.meta?.[c];
          return v === undefined ? null : v;
        }),
      ]),
      { rowClass: (i) => ((data.models[i].degenerated ?? 0) > 0 ? 'flagged' : undefined) },
    ),
  });

  // basis
  if (shifts.length) {
    const s0 = shifts[0];
    sections.push({
      id: 'basis',
      title: 'Filter basis',
      intro: `<p>Principal components of all ${totalFilters.toLocaleString('en-US')} peak-scaled ${kernelText} filters; the drift below compares the distributions of the coefficients along them, weighted by explained variance.</p>`,
      body: figureRow(
        figure(
          eigenImagesSvg(s0.components, s0.explainedVarianceRatio, {
            title: 'Eigen-images',
            embedStyle: false,
            size: 58,
            kernel: [kh, kw],
            // k² components: rows of at most 9
            columns: Math.min(s0.components.length, 9),
          }),
        ),
        figure(
          cumulativeVarianceSvg(s0.explainedVarianceRatio, {
            title: 'Explained variance',
            subtitle: 'bars: per component · line: cumulative',
            embedStyle: false,
          }),
        ),
      ),
    });
  }

  // drift overview
  const withPairs = shifts.filter((s) => s.groups.length >= 2);
  if (shifts.length) {
    const table = htmlTable(
      [
        { header: 'grouping' },
        { header: 'groups', numeric: true },
        { header: 'pairs', numeric: true },
        { header: 'median', numeric: true },
        { header: 'max', numeric: true },
        { header: 'most different pair' },
      ],
      shifts.map((s) => {
        const u = upper(s);
        const mp = maxPair(s);
        return [
          s.by,
          s.groups.length,
          u.length,
          median(u),
          u.length ? Math.max(...u) : null,
          mp ? `${mp.a} vs ${mp.b}` : null,
        ];
      }),
    );
    sections.push({
      id: 'drift',
      title: 'Distribution shift',
      intro: `<p>Drift between two groups of filters = Σ over the ${kh * kw} PCA coefficients of explained-variance ratio × symmetric KL divergence of the groups’ coefficient histograms. 0 means identical distributions.</p>`,
      body:
        (withPairs.length
          ? figure(
              driftBoxplotSvg(
                withPairs.map((s) => ({ label: s.by, matrix: s.matrix })),
                { title: 'Pairwise drift per grouping', embedStyle: false },
              ),
              'Each dot is one pair of groups; boxes show quartiles, whiskers 1.5 IQR.',
            )
          : '<p class="muted">No grouping has two or more groups, so there are no pairs to compare.</p>') +
        table,
    });
  }

  // per grouping
  const ridgeBy = new Map((data.ridges ?? []).map((r) => [r.by, r]));
  for (const s of shifts) {
    const r = ridgeBy.get(s.by);
    const first = r?.coefficients.find((c) => c.index === 0) ?? r?.coefficients[0];
    const figs = [
      figure(
        driftHeatmapSvg(s, {
          title: `Drift by ${s.by}`,
          subtitle: `${s.groups.length} groups · ${s.filterCount.toLocaleString('en-US')} filters`,
          embedStyle: false,
        }),
        'Symmetric, variance-weighted KL divergence between groups. Hover a cell for its value.',
      ),
    ];
    if (first?.curves.length) {
      figs.push(
        figure(
          ridgePlotSvg(ridgeOrder(first.curves, s.groups), {
            title: `Coefficient ${first.index + 1} by ${s.by}`,
            subtitle: `Gaussian KDE per group · ${pct(s.explainedVarianceRatio[first.index])} of variance`,
            xLabel: `coefficient ${first.index + 1}`,
            embedStyle: false,
            width: 440,
            colors: isOrdered(s) ? 'sequential' : undefined,
          }),
        ),
      );
    }
    const sizes = s.groups.map((g, i) => `${esc(g)} (${s.counts[i].toLocaleString('en-US')})`);
    sections.push({
      id: sectionId('by', s.by),
      title: `By ${s.by}`,
      intro: `<p class="muted">Groups (filters): ${sizes.slice(0, 24).join(', ')}${sizes.length > 24 ? `, … ${sizes.length - 24} more` : ''}.</p>`,
      body: figureRow(...figs),
    });
  }

  // ridge small multiples
  const gridBy =
    data.ridgeGridBy ??
    data.ridges?.find((r) => (r.coefficients[0]?.curves.length ?? 0) >= 2)?.by ??
    data.ridges?.[0]?.by;
  const grid = gridBy !== undefined ? ridgeBy.get(gridBy) : undefined;
  if (grid) {
    const shift = shifts.find((s) => s.by === grid.by);
    const order = shift?.groups ?? [];
    sections.push({
      id: 'ridges',
      title: `Coefficient distributions by ${grid.by}`,
      intro:
        '<p>Kernel density of each PCA coefficient per group (Silverman bandwidth). Shifted or reshaped ridges are what the drift numbers measure.</p>',
      body: figure(
        ridgeGridSvg(
          grid.coefficients.map((c) => ({
            title: coefficientTitle(c.index, shift?.explainedVarianceRatio[c.index]),
            curves: ridgeOrder(c.curves, order),
          })),
          {
            embedStyle: false,
            panelWidth: 250,
            colors: shift && isOrdered(shift) ? 'sequential' : undefined,
          },
        ),
      ),
    });
  }

  // density
  if (data.density) {
    const xi = (data.density.xIndex ?? 0) + 1;
    const yi = (data.density.yIndex ?? 1) + 1;
    sections.push({
      id: 'density',
      title: 'Coefficient density',
      intro: `<p>All filters in the plane of coefficients ${xi} and ${yi}, on a log colour scale (empty bins left blank).</p>`,
      body: figure(
        densitySvg(data.density, {
          title: `Coefficients ${xi} and ${yi}`,
          xLabel: `coefficient ${xi}`,
          yLabel: `coefficient ${yi}`,
          embedStyle: false,
        }),
      ),
    });
  }

  if (data.cohorts) sections.push(cohortSection(data.cohorts));
  if (data.atlas)
    sections.push(
      atlasSection(
        data.atlas.view,
        atlasSharesTable(
          data.atlas.models.filter((m) => m.kernels > 0),
          'model',
        ),
        data.atlas.note,
      ),
    );
  if (data.energy)
    sections.push(energySection(data.energy.models, data.energy.correlation, data.energy.note));

  const generated =
    data.generatedAt === undefined
      ? new Date().toISOString().slice(0, 19).replace('T', ' ') + ' UTC'
      : data.generatedAt;
  return renderHtmlPage({
    title: data.title ?? 'Filter zoo report',
    subtitle: `${data.source ? `${esc(data.source)} · ` : ''}${data.models.length.toLocaleString('en-US')} models · ${totalFilters.toLocaleString('en-US')} filters`,
    summary: `<div class="summary">${lines.join('')}</div>`,
    sections,
    footer: `Generated by filterdb${generated ? ` on ${esc(generated)}` : ''}. Distribution shift as in CNN Filter DB (Gavrikov &amp; Keuper, CVPR 2022).`,
  });
}

export interface ZooGrouping {
  by: string;
  /** Every selected filter, batched with its group label for this grouping. */
  source: BatchSource;
}

export interface ZooDataOptions {
  /** Histogram bins of the drift (default 70, the paper's). */
  bins?: number;
  /** Fine histogram bins behind the KDEs (default 2048). */
  kdeBins?: number;
  /** KDE evaluation points (default 1024). */
  kdePoints?: number;
  /** Groupings that get ridge plots (default all). */
  ridgesFor?: string[];
  /** Density options (default 512² over [-3.3, 3.3]²), or false. */
  density?: Density2dOptions | false;
  onStep?: (what: string) => void;
}

/**
 * Computes the report's analysis from filter sources: one basis (fitted on the first grouping's source — every
 * grouping should select the same filters), then per grouping the drift, the fine coefficient histograms and
 * their KDEs, and (once) the 2-D density.
 */
export async function zooReportData(
  input: {
    models: ZooModel[];
    metaColumns?: string[];
    groupings: ZooGrouping[];
    title?: string;
    source?: string;
  },
  options: ZooDataOptions = {},
): Promise<ZooReportData> {
  const shifts: ZooShift[] = [];
  const ridges: ZooRidges[] = [];
  let density: ZooReportData['density'];
  if (input.groupings.length === 0) return { ...input, shifts, ridges };
  options.onStep?.('basis');
  const basis = await fitBasis(input.groupings[0].source, 9);
  for (const [gi, g] of input.groupings.entries()) {
    options.onStep?.(`shift by ${g.by}`);
    const shift = await distributionShift(g.source, g.by, { basis, bins: options.bins ?? 70 });
    const { histograms: _h, ...plain } = shift;
    shifts.push(plain);
    const wantRidges = !options.ridgesFor || options.ridgesFor.includes(g.by);
    const wantDensity = gi === 0 && options.density !== false;
    if (!wantRidges && !wantDensity) continue;
    options.onStep?.(`densities by ${g.by}`);
    const dist = await coefficientDistributions(g.source, basis, {
      bins: options.kdeBins ?? 2048,
      range: shift.range,
      density: wantDensity ? (options.density === false ? false : (options.density ?? {})) : false,
    });
    if (wantRidges) {
      ridges.push({
        by: g.by,
        coefficients: Array.from({ length: basis.dims }, (_, c) => ({
          index: c,
          curves: groupKdes(dist.histograms, c, {
            groups: shift.groups,
            points: options.kdePoints ?? 1024,
          }).map((k) => ({
            label: k.group,
            x: k.x,
            y: k.y,
            n: k.n,
          })),
        })),
      });
    }
    if (dist.density) density = dist.density.toGrid();
  }
  return {
    title: input.title,
    source: input.source,
    models: input.models,
    metaColumns: input.metaColumns,
    shifts,
    ridges,
    density,
  };
}
