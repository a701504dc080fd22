/** The database pages: models list, one model, compare. */
import { defaultGrouping } from '../../src/analysis/groups.js';
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
  type ModelDetail,
  type ModelSummary,
  postJson,
} from './api.js';
import { databaseEnergySection, modelAtlasSections } from './atlas.js';
import { kernelInput } from './kernel-input.js';
import { probeSection } from './probe.js';
import {
  alphaFigure,
  bytes,
  errorBox,
  filterFigures,
  flagChips,
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
      { class: m.health.degenerated > 0 ? 'flagged' : null, 'data-model': m.id },
      h('td', { class: 'name' }, h('a', { href: `#/model/${m.id}` }, m.name)),
      h('td', {}, m.format ?? '–'),
      h('td', { class: 'num nowrap' }, bytes(m.bytes)),
      h('td', { class: 'num' }, String(m.convLayers ?? m.health.layers)),
      h('td', { class: 'num' }, (m.filters3x3 ?? 0).toLocaleString('en-US')),
      h('td', {}, health),
      metaCols.map((k) => h('td', {}, m.meta[k] ?? '')),
    );
  });
  root.replaceChildren(
    h('h1', {}, 'Models'),
    h('p', { class: 'sub' }, i.db),
    cards,
    models.length
      ? h(
          'div',
          { class: 'table-wrap' },
          h('table', { id: 'models' }, h('thead', {}, head), h('tbody', {}, rows)),
        )
      : h(
          'p',
          { class: 'muted' },
          'The database is empty. ',
          h('a', { href: '#/drop' }, 'Drop a model file'),
          ' and add it.',
        ),
    ...(models.length ? databaseEnergySection() : []),
  );
}

function card(value: string, label: string): HTMLElement {
  return h('div', { class: 'card' }, h('div', { class: 'v' }, value), h('div', { class: 'k' }, label));
}

export async function modelPage(root: HTMLElement, id: string): Promise<void> {
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
  );
  const grids = h('div', { id: 'filters' });
  const showLayer = async (index: number, inDialog: boolean) => {
    const layer = m.layers[index];
    const target = inDialog ? h('div', {}, loading()) : grids;
    if (inDialog) showDialog(`${layer.name}`, target);
    else grids.replaceChildren(loading());
    try {
      if (layer.storedFilters === 0) {
        target.replaceChildren(
          h(
            'p',
            { class: 'muted' },
            `The filters of ${layer.name} (${layer.shape?.join('×') ?? '?'}) are not stored: the database keeps 3×3 filters unless ingested with --kernel all.`,
          ),
        );
        return;
      }
      const f = await getJson<LayerFilters>(
        `/api/models/${m.id}/layers/${layer.index}/filters?max=${inDialog ? 4096 : 512}`,
      );
      const note = f.returned < f.stored ? ` · first ${f.returned} of ${f.stored} filters` : '';
      target.replaceChildren(filterFigures(layer.name, f.weights, f.shape, note, inDialog));
    } catch (e) {
      target.replaceChildren(errorBox((e as Error).message));
    }
  };
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
    h('h2', {}, 'Metrics over depth'),
    svgFigure(
      metricCurvesSvg(
        m.layers.map((l) => ({
          ...l,
          convDepth: l.convDepth ?? undefined,
          shape: l.shape ?? undefined,
          init: l.init ? { rule: l.init.rule, metrics: l.init.metrics } : null,
        })),
        { embedStyle: false, width: 1080 },
      ),
      'Degenerated layers are marked. Variance entropy is only calibrated for 3×3 kernels.' +
        (m.layers.some((l) => l.init)
          ? ' Grey bars: what random layers of the same shape give (1st–99th percentile).'
          : ''),
    ),
    alphaFigure(m.layers) ? h('h2', {}, 'Spectral alpha over depth') : '',
    alphaFigure(m.layers) ?? '',
    h('h2', {}, 'Layers'),
    h('p', { class: 'muted' }, 'Click a layer to see its filters large.'),
    layerTable(m.layers, (i) => showLayer(i, true)),
    h('h2', {}, 'Filters of the first layer'),
    grids,
    ...modelAtlasSections(m.id),
    m.layers.length ? probeSection({ kind: 'database', id: m.id, name: m.name }, m.name) : '',
  );
  if (m.layers.length) await showLayer(0, false);
}

export async function comparePage(root: HTMLElement): Promise<void> {
  root.replaceChildren(h('h1', {}, 'Compare'), loading());
  const i = await info();
  if (!i.db) {
    root.replaceChildren(h('h1', {}, 'Compare'), noDatabase());
    return;
  }
  const meta = i.metaColumns ?? [];
  const cols = new Set(i.layerColumns ?? []);
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
    },
    byOptions.map((o) => h('option', { value: o }, o)),
  );
  const where = h('input', {
    id: 'where',
    name: 'where',
    placeholder: `optional SQL condition, e.g. kind = 'plain'`,
    class: 'sql',
  });
  const selA = h('input', {
    id: 'sel-a',
    class: 'sql',
    placeholder: `selection A, e.g. model = '${'ch_PP-OCRv4_det_infer'}'`,
  });
  const selB = h('input', {
    id: 'sel-b',
    class: 'sql',
    placeholder: 'selection B, e.g. conv_depth_norm > 0.5',
  });
  const kernel = kernelInput('kernel');
  const labA = h('input', { id: 'lab-a', class: 'label', value: 'A' });
  const labB = h('input', { id: 'lab-b', class: 'label', value: 'B' });
  const run = h('button', { type: 'submit', class: 'primary', id: 'run' }, 'Compare');
  const out = h('div', { id: 'compare-result' });
  const form = h(
    'form',
    { class: 'compare panel' },
    h('div', { class: 'row' }, mode('group', 'Group by', true), by, where),
    h('div', { class: 'row' }, mode('select', 'Two selections', false), labA, selA),
    h('div', { class: 'row indent' }, labB, selB),
    h(
      'details',
      { class: 'muted small' },
      h('summary', {}, 'Conditions are SQL on the layer_info view'),
      h('p', { class: 'mono' }, (i.layerColumns ?? []).join(', ')),
    ),
    h('div', { class: 'row' }, h('label', { for: 'kernel' }, 'Kernel size '), kernel, run),
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const m = (form.querySelector('input[name=mode]:checked') as HTMLInputElement).value;
    const groupings = Array.from(by.selectedOptions, (o) => o.value);
    const k = kernel.value.trim() || undefined;
    const body =
      m === 'group'
        ? { by: groupings, where: where.value.trim() || undefined, kernel: k }
        : {
            selections: [
              { label: labA.value, where: selA.value },
              { label: labB.value, where: selB.value },
            ],
            kernel: k,
          };
    run.disabled = true;
    out.replaceChildren(loading('Computing the filter basis, drift and densities…'));
    try {
      const r = await postJson<CompareAnswer | CompareManyAnswer>('/api/compare', body);
      if ('results' in r) renderGroupings(out, r);
      else renderCompare(out, r);
    } catch (err) {
      out.replaceChildren(errorBox((err as Error).message));
    } finally {
      run.disabled = false;
    }
  });
  // a categorical metadata column that splits the models (never an id or count column), else per model
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
    form,
    out,
  );
  form.requestSubmit();
}

/** Several groupings of one selection: one section (heat-map, densities) per grouping; one basis. */
function renderGroupings(out: HTMLElement, many: CompareManyAnswer): void {
  if (many.results.length === 1) {
    renderCompare(out, many.results[0]);
    return;
  }
  const sections = many.results.map((r, i) => {
    const section = h('section', { class: 'grouping', 'data-by': r.by });
    renderCompare(section, r, i === 0);
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

function renderCompare(out: HTMLElement, r: CompareAnswer, basis = true): void {
  const evr = r.explainedVarianceRatio;
  const panels = r.ridges.map((c) => ({ title: coefficientTitle(c.index, evr[c.index]), curves: c.curves }));
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
      `${r.filterCount.toLocaleString('en-US')} ${r.kernel ? `${r.kernel} ` : ''}filters in ${r.groups.length} groups by ${r.by} · ${r.seconds.toFixed(2)} s`,
    ),
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
          { title: `Drift by ${r.by}`, subtitle: 'symmetric KL, EVR-weighted', embedStyle: false },
        ),
        undefined,
        'drift',
      ),
      basis
        ? svgFigure(
            eigenImagesSvg(r.components, evr, {
              title: 'Eigen-images of the basis',
              // k rows of k k×k images
              columns: Math.round(Math.sqrt(r.components.length)),
              size: 60,
              embedStyle: false,
            }),
            undefined,
            'eigen',
          )
        : '',
    ),
    h('h2', {}, 'Coefficient densities'),
    svgFigure(
      ridgeGridSvg(panels, { columns: 3, embedStyle: false }),
      'Kernel density of each basis coefficient per group.',
      'ridges',
    ),
  );
}

export { showDialog };
