/** The Cohorts page: `filterdb cohorts` on the server's database (POST /api/cohorts), plots and downloads. */
import { COHORT_METRICS, type CohortsResult, cohortsCsv } from '../../src/analysis/cohorts.js';
import { cohortBoxplotSvg, cohortDivergenceSvg } from '../../src/report/svg/index.js';
import { info, postJson } from './api.js';
import { saveBlob } from './download.js';
import { kernelInput } from './kernel-input.js';
import { pushState, type Route, routeHash } from './router.js';
import { withCompletion } from './sql-complete.js';
import { APP_PLOT, errorBox, fmt, h, loading, svgFigure } from './ui.js';

type CohortsAnswer = CohortsResult & { nonFinite: { layers: number; filters: number }; seconds: number };

const LABELS = { sparsity: 'sparsity', varianceEntropy: 'variance entropy', orthogonality: 'orthogonality' };

function download(name: string, type: string, text: string): void {
  saveBlob(name, new Blob([text], { type }));
}

export async function cohortsPage(root: HTMLElement, route?: Route): Promise<void> {
  root.replaceChildren(h('h1', {}, 'Cohorts'), loading());
  const i = await info();
  if (!i.db) {
    root.replaceChildren(
      h('h1', {}, 'Cohorts'),
      h(
        'p',
        { class: 'summary' },
        'This server has no filter database (start it with filterdb serve --db …).',
      ),
    );
    return;
  }
  const meta = i.metaColumns ?? [];
  const by = h(
    'select',
    { id: 'cohort-by', name: 'by', 'aria-label': 'Split the models by' },
    meta.map((o) => h('option', { value: o }, o)),
    ['model', 'format', 'producer'].filter((c) => !meta.includes(c)).map((o) => h('option', { value: o }, o)),
  );
  const correlate = h(
    'select',
    { id: 'cohort-correlate', name: 'correlate', 'aria-label': 'Correlate with' },
    h('option', { value: '' }, '(no correlation)'),
    meta.map((o) => h('option', { value: o }, o)),
  );
  const q = route?.query ?? new URLSearchParams();
  const where = h('input', {
    id: 'cohort-where',
    name: 'where',
    class: 'sql',
    placeholder: `optional SQL condition on layer_info, e.g. kind <> 'depthwise'`,
    'aria-label': 'condition on the layers (SQL)',
    value: q.get('where') ?? '',
  });
  const kernel = kernelInput('cohort-kernel');
  const run = h('button', { type: 'submit', class: 'primary', id: 'cohort-run' }, 'Compare cohorts');
  const out = h('div', { id: 'cohorts-result' });
  const form = h(
    'form',
    { class: 'compare panel' },
    h(
      'div',
      { class: 'row' },
      h('label', {}, 'Cohorts by '),
      by,
      h('label', {}, ' correlate with '),
      correlate,
    ),
    h('div', { class: 'row' }, withCompletion(where, i.layerColumns ?? [])),
    h('div', { class: 'row' }, h('label', { for: 'cohort-kernel' }, 'Kernel size '), kernel, run),
  );
  let first = true;
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    // the state in the URL: the first run fills in the defaults, later runs are new history entries
    pushState(
      routeHash({
        page: 'cohorts',
        query: { by: by.value, correlate: correlate.value, where: where.value.trim() },
      }),
      first,
    );
    first = false;
    run.disabled = true;
    out.replaceChildren(loading('Scanning the layers of the selected models…'));
    try {
      const r = await postJson<CohortsAnswer>('/api/cohorts', {
        by: by.value,
        where: where.value.trim() || undefined,
        correlate: correlate.value || undefined,
        kernel: kernel.value.trim() || undefined,
      });
      renderCohorts(out, r);
    } catch (err) {
      out.replaceChildren(errorBox((err as Error).message));
    } finally {
      run.disabled = false;
    }
  });
  // the URL's choice, else the first metadata column that splits the models
  const hasOption = (sel: HTMLSelectElement, v: string | null) =>
    v !== null && Array.from(sel.options).some((o) => o.value === v);
  by.value = hasOption(by, q.get('by'))
    ? q.get('by')!
    : (meta.find((k) => (i.metaDistinct?.[k] ?? 0) >= 2) ?? by.value);
  if (hasOption(correlate, q.get('correlate'))) correlate.value = q.get('correlate')!;
  root.replaceChildren(
    h('h1', {}, 'Cohorts'),
    h(
      'p',
      { class: 'sub' },
      'Cohorts of models (robust vs normal, pruned vs dense, …) compared depth bin by depth bin, as in Gavrikov & Keuper, Adversarial Robustness through the Lens of Convolutional Filters (CVPR-W 2022): sparsity, variance entropy and orthogonality of the 3×3 layers (or those of the kernel size set below), and the distribution shift of their filters between cohorts.',
    ),
    form,
    out,
  );
  form.requestSubmit();
}

function renderCohorts(out: HTMLElement, r: CohortsAnswer): void {
  const c = r.correlation;
  const head = h(
    'tr',
    {},
    h('th', {}, 'model'),
    h('th', {}, r.by),
    COHORT_METRICS.map((m) => h('th', { class: 'num' }, LABELS[m])),
  );
  const rows = r.models.map((m) =>
    h(
      'tr',
      {},
      h('td', { class: 'name' }, m.model),
      h('td', {}, m.group),
      COHORT_METRICS.map((k) => h('td', { class: 'num' }, fmt(m.whole[k]))),
    ),
  );
  const csv = h('button', { type: 'button', id: 'cohorts-csv' }, 'Download CSV');
  const json = h('button', { type: 'button', id: 'cohorts-json' }, 'Download JSON');
  const base = `cohorts-${r.by.replace(/[^\w.-]+/g, '_')}`;
  csv.addEventListener('click', () => download(`${base}.csv`, 'text/csv', cohortsCsv(r)));
  json.addEventListener('click', () => {
    const { nonFinite: _n, seconds: _s, ...contract } = r;
    download(`${base}.json`, 'application/json', `${JSON.stringify(contract, null, 1)}\n`);
  });
  out.replaceChildren(
    h(
      'p',
      { class: 'summary' },
      `${r.models.length} models in ${r.groups.length} cohorts by ${r.by} (${r.groups
        .map((g) => `${g}: ${r.models.filter((m) => m.group === g).length}`)
        .join(', ')}) · ${r.seconds.toFixed(2)} s`,
    ),
    r.nonFinite.layers > 0
      ? h(
          'p',
          { class: 'summary bad' },
          `Left out ${r.nonFinite.layers} layer(s) whose weights hold NaN or infinite values.`,
        )
      : '',
    h(
      'div',
      { class: 'figs' },
      COHORT_METRICS.map((m) =>
        svgFigure(
          cohortBoxplotSvg(r, m, { ...APP_PLOT, title: `${LABELS[m]} by depth` }),
          undefined,
          `box-${m}`,
        ),
      ),
      svgFigure(cohortDivergenceSvg(r, { ...APP_PLOT }), undefined, 'divergence'),
    ),
    c
      ? h(
          'p',
          { id: 'cohorts-correlation' },
          `Spearman's ρ with ${c.column} (${c.n} models with a value): `,
          COHORT_METRICS.map((m) => `${LABELS[m]} ${c[m] === null ? '–' : fmt(c[m], 3)}`).join(' · '),
        )
      : '',
    h('h2', {}, 'Models'),
    h('p', { class: 'row' }, csv, ' ', json),
    h(
      'div',
      { class: 'table-wrap' },
      h('table', { id: 'cohort-models' }, h('thead', {}, head), h('tbody', {}, rows)),
    ),
  );
}
