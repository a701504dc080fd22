/** The database pages: models list, one model, compare. */
import { defaultGrouping, depthBinStart, displayOrder } from '../../src/analysis/groups.js';
import { isDegenerated, isDegenerationFlag, modelVerdict } from '../../src/metrics/flags.js';
import {
  coefficientTitle,
  driftHeatmapSvg,
  eigenImagesSvg,
  metricCurvesSvg,
  ridgeGridSvg,
} from '../../src/report/svg/index.js';
import {
  type CompareAnswer,
  type CompareManyAnswer,
  getJson,
  info,
  type LayerFilters,
  type LayerWeights,
  type ModelDetail,
  type ModelSummary,
  postJson,
} from './api.js';
import { databaseEnergySection, modelAtlasSections } from './atlas.js';
import { dataDownloads, densityCsv, densityJson, driftCsv, driftJson, reportLink, slug } from './download.js';
import { kernelInput } from './kernel-input.js';
import { closeLayerView, followLayerView, openLayerView, setLayerSource } from './layer-view.js';
import { basisFigures, layersSection, modelSections } from './model-sections.js';
import { linkPlotsAndTable } from './plot-links.js';
import { probeSection } from './probe.js';
import { onSamePage, parseRoute, popState, pushState, type Route, routeHash } from './router.js';
import { quoteColumn, withCompletion } from './sql-complete.js';
import { enhanceLayerTable, enhanceTable } from './table.js';
import {
  APP_PLOT,
  alphaFigure,
  bytes,
  errorBox,
  filterFigures,
  flagChips,
  fmt,
  h,
  layerTable,
  loading,
  showDialog,
  svgFigure,
} from './ui.js';

function noDatabase(): HTMLElement {
  return h(
    'div',
    { class: 'summary' },
    h(
      'p',
      {},
      'This server has no filter database. Start it with ',
      h('code', {}, 'filterdb serve --db zoo.duckdb'),
      '.',
    ),
    h('p', {}, 'You can still ', h('a', { href: '#/drop' }, 'analyse a model file'), ' in the browser.'),
  );
}

export async function modelsPage(root: HTMLElement): Promise<void> {
  root.replaceChildren(h('h1', {}, 'Models'), loading());
  const i = await info();
  if (!i.db) {
    root.replaceChildren(h('h1', {}, 'Models'), noDatabase());
    return;
  }
  const { models } = await getJson<{ models: ModelSummary[] }>('/api/models');
  const metaCols = i.metaColumns ?? [];
  const degenerated = models.filter((m) => m.health.degenerated > 0).length;
  const c = i.counts;
  const cards = h(
    'div',
    { class: 'grid-cards' },
    card(String(models.length), 'models'),
    card((c?.layers ?? 0).toLocaleString('en-US'), 'conv layers'),
    card((c?.filters ?? 0).toLocaleString('en-US'), '3×3 filters stored'),
    card(`${degenerated}`, 'models with degenerated layers'),
  );
  const head = h(
    'tr',
    {},
    h('th', {}, 'model'),
    h('th', {}, 'format'),
    h('th', { class: 'num' }, 'size'),
    h('th', { class: 'num' }, 'conv layers'),
    h('th', { class: 'num' }, '3×3 filters'),
    h('th', {}, 'health'),
    metaCols.map((k) => h('th', {}, k)),
  );
  const rows = models.map((m) => {
    const flags = Object.entries(m.health.flags)
      .filter(([id, n]) => n > 0 && isDegenerationFlag(id))
      .map(([id, n]) => ({ id, reason: `${n} layer${n === 1 ? '' : 's'} flagged ${id}`, n }));
    const verdict = modelVerdict(m.health);
    const health =
      verdict.state !== 'degenerated'
        ? h('span', { class: verdict.state === 'healthy' ? 'ok' : 'muted' }, verdict.text)
        : h(
            'span',
            {},
            h('b', {}, verdict.text),
            ' ',
            flagChips(flags).map((chip, k) => {
              chip.textContent = `${chip.textContent} ${flags[k].n}`;
              return chip;
            }),
          );
    return h(
      'tr',
      {
        class: m.health.degenerated > 0 ? 'flagged' : null,
        'data-model': m.id,
        'data-format': m.format ?? '',
      },
      h('td', { class: 'name' }, h('a', { href: `#/model/${m.id}`, title: m.name }, m.name)),
      h('td', {}, m.format ?? '–'),
      h('td', { class: 'num nowrap', 'data-sort': m.bytes ?? '' }, bytes(m.bytes)),
      h('td', { class: 'num' }, String(m.convLayers ?? m.health.layers)),
      h('td', { class: 'num' }, (m.filters3x3 ?? 0).toLocaleString('en-US')),
      h('td', { 'data-sort': m.health.degenerated }, health),
      metaCols.map((k) => h('td', {}, m.meta[k] ?? '')),
    );
  });
  const table = h('table', { id: 'models' }, h('thead', {}, head), h('tbody', {}, rows));
  root.replaceChildren(
    h('h1', {}, 'Models'),
    h('p', { class: 'sub' }, i.db),
    cards,
    models.length
      ? h('div', { class: 'table-wrap' }, table)
      : h(
          'p',
          { class: 'muted' },
          'The database is empty. ',
          h('a', { href: '#/drop' }, 'Drop a model file'),
          ' and add it.',
        ),
    ...(models.length ? databaseEnergySection() : []),
  );
  if (models.length)
    enhanceTable(
      table,
      [
        { type: 'search', label: 'Search', id: 'model-search', placeholder: 'name, format or metadata' },
        { type: 'class', label: 'degenerated only', className: 'flagged', id: 'degenerated-only' },
        { type: 'attr', label: 'format', attr: 'format', id: 'filter-format' },
      ],
      table.parentElement!,
    );
}

function card(value: string, label: string): HTMLElement {
  return h('div', { class: 'card' }, h('div', { class: 'v' }, value), h('div', { class: 'k' }, label));
}

/** A stored layer's filter grids (or why there are none). */
async function layerFilterFigures(m: ModelDetail, index: number, large: boolean): Promise<HTMLElement> {
  const layer = m.layers[index];
  try {
    if (layer.storedFilters === 0)
      return h(
        'p',
        { class: 'muted' },
        `The filters of ${layer.name} (${layer.shape?.join('×') ?? '?'}) are not stored: the database keeps 3×3 filters unless ingested with --kernel all.`,
      );
    const f = await getJson<LayerFilters>(
      `/api/models/${m.id}/layers/${layer.index}/filters?max=${large ? 4096 : 512}`,
    );
    const note = f.returned < f.stored ? ` · first ${f.returned} of ${f.stored} filters` : '';
    return filterFigures(layer.name, f.weights, f.shape, note, large);
  } catch (e) {
    return errorBox((e as Error).message);
  }
}

/** The basis of the model's stored 3×3 filters (the compare endpoint on this model alone). */
async function storedBasis(m: ModelDetail, into: HTMLElement): Promise<void> {
  const threes = m.layers.filter(
    (l) => l.storedFilters > 0 && l.shape?.[2] === 3 && l.shape?.[3] === 3 && l.kind !== 'transposed',
  );
  if (threes.length === 0) {
    into.replaceChildren(
      basisFigures(
        null,
        'The model has no stored 3×3 convolutions, so there is no 3×3 filter basis to show.',
      ),
    );
    return;
  }
  try {
    const r = await postJson<CompareAnswer>('/api/compare', { by: 'model', where: `model_id = ${m.id}` });
    into.replaceChildren(
      basisFigures(
        {
          components: r.components,
          explainedVarianceRatio: r.explainedVarianceRatio,
          filters: r.filterCount,
          layers: threes.length,
        },
        null,
      ),
    );
  } catch (e) {
    into.replaceChildren(errorBox((e as Error).message));
  }
}

export async function modelPage(
  root: HTMLElement,
  id: string,
  openLayer: number | null = null,
): Promise<void> {
  root.replaceChildren(loading());
  if (!(await info()).db) {
    root.replaceChildren(noDatabase());
    return;
  }
  const m = await getJson<ModelDetail>(`/api/models/${encodeURIComponent(id)}`);
  const flagged = m.layers.filter((l) => isDegenerated(l.flags));
  const verdict = modelVerdict(m.health);
  const metaList = Object.entries(m.meta);
  const summary = h(
    'div',
    { class: `summary ${flagged.length ? 'bad' : 'good'}` },
    h(
      'p',
      {},
      `${m.format ?? 'model'} · ${bytes(m.bytes)} · ${m.layers.length} conv layers · ${(m.filters3x3 ?? 0).toLocaleString('en-US')} 3×3 filters · `,
      flagged.length
        ? h('b', {}, `${flagged.length} degenerated layers`)
        : verdict.state === 'healthy'
          ? 'no degenerated layers'
          : verdict.text,
      m.health.orthogonalityNotMeasured && flagged.length ? ' (orthogonality not measured)' : '',
    ),
    metaList.length
      ? h(
          'p',
          { class: 'meta' },
          metaList.map(([k, v]) =>
            h('span', { class: 'kv' }, h('span', { class: 'muted' }, `${k}: `), v ?? '–'),
          ),
        )
      : null,
    h('p', { class: 'muted mono' }, m.file),
    h(
      'p',
      { class: 'downloads' },
      reportLink(`/api/models/${m.id}/report.html`, 'HTML report of this model', 'model-report'),
    ),
  );
  const grids = h('div', { id: 'filters' }, loading());
  const basis = h('div', { id: 'basis' }, loading('Fitting the basis of the stored 3×3 filters…'));
  // the URL names a layer by the API's index; the table by position
  const hashOf = (pos: number | null) =>
    routeHash({ page: 'model', model: m.id, layer: pos === null ? null : m.layers[pos].index });
  const positionOf = (layerIndex: number | null) =>
    layerIndex === null ? -1 : m.layers.findIndex((l) => l.index === layerIndex);
  const pick = (pos: number) => openLayerView(m.id, pos);
  let links: ReturnType<typeof linkPlotsAndTable> | null = null;
  setLayerSource({
    model: String(m.id),
    layers: m.layers,
    onShow: (i) => links?.select(i),
    load: async (i) => {
      // up to 1 M weights (whole output channels): every layer of most CNNs whole, the view says when not
      const w = await getJson<LayerWeights>(
        `/api/models/${m.id}/layers/${m.layers[i].index}/weights?max=${1 << 20}`,
      );
      return { ...w, source: w.source === 'file' ? 'model file (not stored in the database)' : 'database' };
    },
  });
  // the layer view's state in the URL: opening or stepping adds a history entry, closing goes back
  followLayerView((state) => {
    if (state && state.model === String(m.id)) pushState(hashOf(state.layer));
    else if (!state && parseRoute(location.hash).layer !== null) popState(hashOf(null));
  });
  onSamePage((r) => {
    const pos = positionOf(r.layer);
    if (pos < 0) closeLayerView();
    else openLayerView(m.id, pos);
    return true;
  });
  const metrics = svgFigure(
    metricCurvesSvg(
      m.layers.map((l) => ({
        ...l,
        convDepth: l.convDepth ?? undefined,
        shape: l.shape ?? undefined,
        init: l.init ? { rule: l.init.rule, metrics: l.init.metrics } : null,
      })),
      { ...APP_PLOT, width: 1080, hitColumns: true },
    ),
    'Degenerated layers are marked; point at a layer for its values, click it for its filters. Variance entropy is only calibrated for 3×3 kernels.' +
      (m.layers.some((l) => l.init)
        ? ' Grey bars: what random layers of the same shape give (1st–99th percentile).'
        : ''),
  );
  const alpha = alphaFigure(m.layers);
  const table = layerTable(m.layers, pick);
  root.replaceChildren(
    h('p', { class: 'crumbs' }, h('a', { href: '#/' }, 'Models'), ' / '),
    h('h1', {}, m.name),
    summary,
    m.warnings.length
      ? h(
          'ul',
          { class: 'warnings' },
          m.warnings.map((w) => h('li', {}, w)),
        )
      : '',
    ...modelSections({
      layers: layersSection(table, m.layers, m.name),
      metrics,
      alpha,
      basis,
      firstLayer: grids,
    }),
    ...modelAtlasSections(m.id),
    m.layers.length ? probeSection({ kind: 'database', id: m.id, name: m.name }, m.name) : '',
  );
  enhanceLayerTable(table);
  links = linkPlotsAndTable(alpha ? [metrics, alpha] : [metrics], table, m.layers, pick);
  const open = positionOf(openLayer);
  if (open >= 0) openLayerView(m.id, open);
  await Promise.all([
    m.layers.length
      ? layerFilterFigures(m, 0, false).then((f) => grids.replaceChildren(f))
      : grids.replaceChildren(),
    storedBasis(m, basis),
  ]);
}

/** What the compare page shows, as its URL holds it. */
interface CompareState {
  mode: 'group' | 'select';
  by: string[];
  where: string;
  a: string;
  b: string;
  la: string;
  lb: string;
  /** A fixed upper end of the drift colour scale, or null for each matrix's own maximum. */
  cmax: number | null;
}

function compareState(q: URLSearchParams): CompareState {
  const cmax = Number(q.get('cmax'));
  return {
    mode: q.get('mode') === 'select' ? 'select' : 'group',
    by: q.getAll('by'),
    where: q.get('where') ?? '',
    a: q.get('a') ?? '',
    b: q.get('b') ?? '',
    la: q.get('la') ?? 'A',
    lb: q.get('lb') ?? 'B',
    cmax: q.has('cmax') && cmax > 0 ? cmax : null,
  };
}

function compareHash(st: CompareState): string {
  const sel = st.mode === 'select';
  return routeHash({
    page: 'compare',
    query: {
      mode: sel ? 'select' : null,
      by: sel ? [] : st.by,
      where: sel ? null : st.where.trim(),
      a: sel ? st.a : null,
      b: sel ? st.b : null,
      la: sel && st.la !== 'A' ? st.la : null,
      lb: sel && st.lb !== 'B' ? st.lb : null,
      cmax: st.cmax === null ? null : String(st.cmax),
    },
  });
}

export async function comparePage(root: HTMLElement, route?: Route): Promise<void> {
  root.replaceChildren(h('h1', {}, 'Compare'), loading());
  const i = await info();
  if (!i.db) {
    root.replaceChildren(h('h1', {}, 'Compare'), noDatabase());
    return;
  }
  const initial = compareState(route?.query ?? new URLSearchParams());
  const meta = i.metaColumns ?? [];
  const columns = i.layerColumns ?? [];
  const cols = new Set(columns);
  const byOptions = [...meta, 'model', 'depth', 'kind', 'kernel', 'op', 'format'].filter(
    (o) => o === 'depth' || cols.has(o),
  );
  const mode = (v: string, label: string, checked: boolean) =>
    h(
      'label',
      { class: 'radio' },
      h('input', { type: 'radio', name: 'mode', value: v, checked }),
      ` ${label}`,
    );
  // several groupings at once (ctrl/shift-click): one read of the filters, one heat-map per grouping
  const by = h(
    'select',
    {
      id: 'by',
      name: 'by',
      multiple: true,
      size: Math.min(byOptions.length, 5),
      title: 'Groupings: ctrl/shift-click for several, computed from one read of the filters',
      'aria-label': 'group by',
    },
    byOptions.map((o) => h('option', { value: o }, o)),
  );
  const where = h('input', {
    id: 'where',
    name: 'where',
    placeholder: `optional SQL condition, e.g. kind = 'plain'`,
    class: 'sql',
    'aria-label': 'condition on the layers (SQL)',
    value: initial.where,
  });
  const selA = h('input', {
    id: 'sel-a',
    class: 'sql',
    placeholder: `selection A, e.g. model = '${'ch_PP-OCRv4_det_infer'}'`,
    'aria-label': 'selection A (SQL condition)',
    value: initial.a,
  });
  const selB = h('input', {
    id: 'sel-b',
    class: 'sql',
    placeholder: 'selection B, e.g. conv_depth_norm > 0.5',
    'aria-label': 'selection B (SQL condition)',
    value: initial.b,
  });
  const labA = h('input', { id: 'lab-a', class: 'label', value: initial.la, 'aria-label': 'label of A' });
  const labB = h('input', { id: 'lab-b', class: 'label', value: initial.lb, 'aria-label': 'label of B' });
  const fix = h('input', { type: 'checkbox', id: 'fix-scale', checked: initial.cmax !== null });
  const cmax = h('input', {
    type: 'number',
    id: 'cmax',
    min: 0,
    step: 'any',
    class: 'num-input',
    'aria-label': 'upper end of the colour scale',
    value: initial.cmax === null ? '' : String(initial.cmax),
    disabled: initial.cmax === null,
  });
  const kernel = kernelInput('kernel');
  const run = h('button', { type: 'submit', class: 'primary', id: 'run' }, 'Compare');
  const out = h('div', { id: 'compare-result' });
  const form = h(
    'form',
    { class: 'compare panel' },
    h(
      'div',
      { class: 'row' },
      mode('group', 'Group by', initial.mode === 'group'),
      by,
      withCompletion(where, columns),
    ),
    h(
      'div',
      { class: 'row' },
      mode('select', 'Two selections', initial.mode === 'select'),
      labA,
      withCompletion(selA, columns),
    ),
    h('div', { class: 'row indent' }, labB, withCompletion(selB, columns)),
    h(
      'div',
      { class: 'row' },
      h('label', { class: 'check' }, fix, ' fix the colour scale at '),
      cmax,
      h('span', { class: 'muted small' }, ' (the same KL colours across comparisons)'),
    ),
    h(
      'details',
      { class: 'muted small' },
      h('summary', {}, 'Conditions are SQL on the layer_info view (column names complete as you type)'),
      h('p', { class: 'mono' }, columns.map(quoteColumn).join(', ')),
    ),
    h('div', { class: 'row' }, h('label', { for: 'kernel' }, 'Kernel size '), kernel, run),
  );
  const setMode = (m: 'group' | 'select') => {
    (form.querySelector(`input[name=mode][value=${m}]`) as HTMLInputElement).checked = true;
  };
  // typing into a field says which kind of comparison is meant
  for (const f of [selA, selB, labA, labB]) f.addEventListener('input', () => setMode('select'));
  where.addEventListener('input', () => setMode('group'));
  by.addEventListener('change', () => setMode('group'));
  const state = (): CompareState => ({
    mode: (form.querySelector('input[name=mode]:checked') as HTMLInputElement).value as 'group' | 'select',
    by: Array.from(by.selectedOptions, (o) => o.value),
    where: where.value,
    a: selA.value,
    b: selB.value,
    la: labA.value,
    lb: labB.value,
    cmax: fix.checked && Number(cmax.value) > 0 ? Number(cmax.value) : null,
  });
  let last: CompareAnswer | CompareManyAnswer | null = null;
  const show = () => {
    if (!last) return;
    const colorMax = state().cmax ?? undefined;
    if ('results' in last) renderGroupings(out, last, colorMax);
    else renderCompare(out, last, true, colorMax);
  };
  fix.addEventListener('change', () => {
    cmax.disabled = !fix.checked;
    if (fix.checked && !(Number(cmax.value) > 0) && last) cmax.value = String(matrixMax(last));
    pushState(compareHash(state()), true);
    show();
  });
  cmax.addEventListener('change', () => {
    pushState(compareHash(state()), true);
    show();
  });
  let first = true;
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const st = state();
    const k = kernel.value.trim() || undefined;
    // the first run fills in the defaults of the URL it was opened with; later runs are new history entries
    pushState(compareHash(st), first);
    first = false;
    const body =
      st.mode === 'group'
        ? { by: st.by, where: st.where.trim() || undefined, kernel: k }
        : {
            selections: [
              { label: st.la, where: st.a },
              { label: st.lb, where: st.b },
            ],
            kernel: k,
          };
    run.disabled = true;
    out.replaceChildren(loading('Computing the filter basis, drift and densities…'));
    try {
      last = await postJson<CompareAnswer | CompareManyAnswer>('/api/compare', body);
      show();
    } catch (err) {
      last = null;
      out.replaceChildren(errorBox((err as Error).message));
    } finally {
      run.disabled = false;
    }
  });
  const known = initial.by.filter((b) => byOptions.includes(b));
  if (known.length) for (const o of by.options) o.selected = known.includes(o.value);
  // a categorical metadata column that splits the models (never an id or count column), else per model
  else
    by.value = defaultGrouping(
      meta.map((k) => ({ name: k, distinct: i.metaDistinct?.[k] ?? 0, numeric: i.metaNumeric?.[k] })),
      i.counts?.models ?? 0,
    );
  root.replaceChildren(
    h('h1', {}, 'Compare filter distributions'),
    h(
      'p',
      { class: 'sub' },
      'Distribution shift between groups of filters of one kernel size (3×3 unless set below), as in CNN Filter DB: a PCA basis of all selected filters, 70-bin coefficient histograms per group, and the explained-variance-weighted symmetric KL divergence between groups.',
    ),
    h(
      'p',
      { class: 'downloads' },
      reportLink('/api/report.html', 'HTML report of the whole database', 'db-report'),
    ),
    form,
    out,
  );
  form.requestSubmit();
}

/** The largest drift of an answer (every grouping): where a fixed colour scale starts. */
function matrixMax(r: CompareAnswer | CompareManyAnswer): number {
  const all = 'results' in r ? r.results : [r];
  let max = 0;
  for (const one of all)
    for (const row of one.matrix) for (const v of row) if (Number.isFinite(v)) max = Math.max(max, v);
  return Number(max.toPrecision(3)) || 1;
}

/** Several groupings of one selection: one section (heat-map, densities) per grouping; one basis. */
function renderGroupings(out: HTMLElement, many: CompareManyAnswer, colorMax?: number): void {
  if (many.results.length === 1) {
    renderCompare(out, many.results[0], true, colorMax);
    return;
  }
  const sections = many.results.map((r, i) => {
    const section = h('section', { class: 'grouping', 'data-by': r.by });
    renderCompare(section, r, i === 0, colorMax);
    return section;
  });
  out.replaceChildren(
    h(
      'p',
      { class: 'summary' },
      `${many.results.length} groupings (${many.results.map((r) => r.by).join(', ')}) from one read of the filters · ${many.seconds.toFixed(2)} s`,
    ),
    ...sections.flatMap((s, i) => [h('h2', {}, `By ${many.results[i].by}`), s]),
  );
}

/** "DigitsCNN (1,152 filters)" */
function sized(r: CompareAnswer, i: number): string {
  return `${r.groups[i]} (${r.counts[i].toLocaleString('en-US')} filters)`;
}

function renderCompare(out: HTMLElement, r: CompareAnswer, basis = true, colorMax?: number): void {
  const evr = r.explainedVarianceRatio;
  // depth bins in depth order, drawn with a sequential palette; every label with its group's size
  const ordered = (labels: readonly string[]) => displayOrder(labels);
  const depthLike = r.groups.some((g) => depthBinStart(g) !== null);
  const countOf = new Map(r.groups.map((g, i) => [g, r.counts[i]]));
  const panels = r.ridges.map((c) => ({
    title: coefficientTitle(c.index, evr[c.index]),
    curves: ordered(c.curves.map((k) => k.label)).map((k) => {
      const curve = c.curves[k];
      const n = countOf.get(curve.label);
      return {
        ...curve,
        label: n === undefined ? curve.label : `${curve.label} (${n.toLocaleString('en-US')})`,
      };
    }),
  }));
  const two = r.groups.length === 2 ? r.matrix[0][1] : null;
  const base = slug(`compare-${r.by}`);
  out.replaceChildren(
    r.groups.length < 2
      ? h(
          'p',
          { class: 'summary bad' },
          `Only one group (${r.groups[0]}): choose a grouping that splits the filters.`,
        )
      : '',
    h(
      'p',
      { class: 'summary' },
      `${r.filterCount.toLocaleString('en-US')} ${r.kernel ? `${r.kernel} ` : ''}filters in ${r.groups.length} groups by ${r.by} (${ordered(
        r.groups,
      )
        .map((k) => sized(r, k))
        .join(', ')}) · ${r.seconds.toFixed(2)} s`,
    ),
    two !== null
      ? h(
          'p',
          { class: 'summary kl' },
          `Symmetric KL divergence (EVR-weighted) between ${r.groups[0]} and ${r.groups[1]}: `,
          h('b', { class: 'kl-value', 'data-value': String(two) }, fmt(two, 4)),
        )
      : '',
    r.nonFinite && r.nonFinite.layers > 0
      ? h(
          'p',
          { class: 'summary bad' },
          `Left out ${r.nonFinite.layers} layer(s) (${r.nonFinite.filters.toLocaleString('en-US')} filters) whose weights hold NaN or infinite values: they cannot be peak-scaled.`,
        )
      : '',
    h(
      'div',
      { class: 'figs' },
      svgFigure(
        driftHeatmapSvg(
          { groups: r.groups, matrix: r.matrix, counts: r.counts, by: r.by },
          {
            title: `Drift by ${r.by}`,
            subtitle: 'symmetric KL, EVR-weighted',
            ...APP_PLOT,
            countsOnLabels: true,
            colorMax,
          },
        ),
        colorMax
          ? `Colour scale fixed at ${colorMax}${matrixMax(r) > colorMax ? ': larger values take the top colour' : ''}.`
          : undefined,
        'drift',
      ),
      basis
        ? svgFigure(
            eigenImagesSvg(r.components, evr, {
              title: 'Eigen-images of the basis',
              // k rows of k k×k images
              columns: Math.round(Math.sqrt(r.components.length)),
              size: 60,
              ...APP_PLOT,
            }),
            undefined,
            'eigen',
          )
        : '',
    ),
    dataDownloads(
      'drift-data',
      'drift matrix',
      `${base}-drift`,
      () => driftCsv(r),
      () => driftJson(r),
    ),
    h('h2', {}, 'Coefficient densities'),
    svgFigure(
      ridgeGridSvg(panels, {
        columns: 3,
        ...APP_PLOT,
        colors: depthLike ? 'sequential' : undefined,
      }),
      'Kernel density of each basis coefficient per group.',
      'ridges',
    ),
    dataDownloads(
      'density-data',
      'coefficient densities (KDE)',
      `${base}-densities`,
      () => densityCsv(r),
      () => densityJson(r),
    ),
  );
}

export { showDialog };
