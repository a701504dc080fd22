/**
 * The layer detail view: a panel over the page with one layer's metrics and flag reasons (as the server or
 * the worker measured them, metrics/flags.ts), its whole out × in filter grid (1x1 layers: the out × in weight
 * matrix) with axes, a colour bar, per-layer / per-filter normalisation, zoom and the near-zero filters
 * marked, and previous / next layer. A page registers where its layers and weights come from
 * ({@link setLayerSource}); {@link openLayerView} opens layer i of that model — the entry point for routes.
 */
import './explore.css';
import { layerGridLayout, layerGridSvg, rgbFilterGridSvg } from '../../src/report/svg/index.js';
import {
  APP_PLOT,
  diagnosticChips,
  errorBox,
  flagChips,
  fmt,
  h,
  loading,
  METRIC_COLUMNS,
  svgFigure,
  type TableLayer,
  takeDataTable,
} from './ui.js';

/** A layer's weights as the view needs them (`/api/…/weights` answers, or the worker plus scanWeights). */
export interface ViewWeights {
  /** `[out', inPerGroup, kh, kw]` of `weights` (whole output channels; may be fewer than the layer has). */
  shape: number[];
  fullShape: number[];
  weights: ArrayLike<number>;
  /** Indices of the near-zero 2-D filters among `weights` (scanWeights' `keep` = 0). */
  dead: number[];
  /** Near-zero filters of the whole layer. */
  deadCount: number;
  /** Where the weights came from, shown in the view ("model file", "database", "browser"). */
  source: string;
}

export interface LayerSource {
  /** The model's key in routes: its database id, or "drop" for the dropped file. */
  model: string;
  layers: readonly TableLayer[];
  load(index: number): Promise<ViewWeights>;
  /** Told which layer the view shows (null: closed), to mark it in the page's table and plots. */
  onShow?(index: number | null): void;
}

/** What the view shows; null when closed. */
export type LayerViewState = { model: string; layer: number } | null;

let source: LayerSource | null = null;
let panel: HTMLElement | null = null;
let current = -1;
let ticket = 0;
let returnFocus: HTMLElement | null = null;
const listeners = new Set<(state: LayerViewState) => void>();
/** Settings kept while the user steps through layers. */
const settings = { scale: 'layer' as 'layer' | 'filter', zoom: 0, markDead: true };

/** The page's model: the view opens its layers. Pages call it when they render (null: none). */
export function setLayerSource(s: LayerSource | null): void {
  if (source && s?.model !== source.model) closeLayerView();
  source = s;
}

/** Called whenever the view opens, steps to another layer or closes (for the URL). Returns an unsubscribe. */
export function onLayerViewChange(listener: (state: LayerViewState) => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

let following: (() => void) | null = null;

/**
 * The page's one listener for keeping the URL in step with the view: each page that shows a model replaces the
 * previous page's (null: none).
 */
export function followLayerView(listener: ((state: LayerViewState) => void) | null): void {
  following?.();
  following = listener ? onLayerViewChange(listener) : null;
}

export function layerViewState(): LayerViewState {
  return panel && source && current >= 0 ? { model: source.model, layer: current } : null;
}

function notify(): void {
  const s = layerViewState();
  source?.onShow?.(s ? s.layer : null);
  for (const l of listeners) l(s);
}

/**
 * Opens the detail view of layer `index` (0-based, table order) of `model` ("drop" or a database id) when
 * that model's page is the one shown; false when it is not (or there is no such layer).
 */
export function openLayerView(model: string | number, index: number): boolean {
  if (!source || source.model !== String(model)) return false;
  if (!Number.isInteger(index) || index < 0 || index >= source.layers.length) return false;
  if (!panel) {
    returnFocus = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    panel = h('section', {
      id: 'layer-view',
      class: 'layer-view',
      role: 'dialog',
      'aria-modal': 'false',
      'aria-labelledby': 'lv-title',
      tabindex: -1,
    });
    panel.addEventListener('keydown', onKey);
    document.body.append(panel);
  }
  current = index;
  void render(source, index);
  notify();
  return true;
}

export function closeLayerView(): void {
  if (!panel) return;
  panel.remove();
  panel = null;
  current = -1;
  ticket++;
  returnFocus?.focus?.();
  returnFocus = null;
  notify();
}

function onKey(e: KeyboardEvent): void {
  const typing = (e.target as Element).closest('input, select, textarea');
  if (e.key === 'Escape') {
    e.preventDefault();
    closeLayerView();
  } else if (!typing && (e.key === 'ArrowLeft' || e.key === 'ArrowRight') && source) {
    e.preventDefault();
    step(e.key === 'ArrowLeft' ? -1 : 1);
  }
}

function step(delta: number): void {
  if (!source) return;
  const next = current + delta;
  if (next >= 0 && next < source.layers.length) openLayerView(source.model, next);
}

function metricsList(l: TableLayer): HTMLElement {
  const m = l.metrics as Record<string, number | null | undefined>;
  const items: [string, string, string][] = METRIC_COLUMNS.map(([key, label, title]) => [
    label,
    fmt(m[key] ?? null, key === 'normL1' || key === 'normL2' ? 2 : 4),
    title,
  ]);
  const alpha = l.spectral?.alpha ?? m.alpha;
  if (alpha !== undefined && alpha !== null)
    items.push(['alpha', fmt(alpha, 3), 'WeightWatcher alpha of the pooled spectrum (2–6: well trained)']);
  if (l.init) items.push(['init score', fmt(l.init.score, 2), l.init.reason ?? '']);
  return h(
    'dl',
    { class: 'lv-metrics' },
    items.map(([k, v, title]) => h('div', { title }, h('dt', {}, k), h('dd', { class: 'num' }, v))),
  );
}

/** Every flag with its reason, in the words flags.ts (and WeightWatcher's checks) gave it. */
function flagList(l: TableLayer): HTMLElement {
  if (l.notMeasured?.includes('metrics and flags'))
    return h('p', { class: 'muted' }, 'Metrics and flags were not measured for this layer.');
  const chips = [...flagChips(l.flags), ...diagnosticChips(l)];
  const reasons = [
    ...l.flags,
    ...(l.trainingFlags ?? []),
    ...(l.init?.nearInit ? [{ id: 'near-init', reason: l.init.reason ?? '' }] : []),
  ];
  if (!reasons.length) return h('p', { class: 'ok lv-flags' }, 'No flags.');
  return h(
    'ul',
    { class: 'lv-flags' },
    reasons.map((f, i) => h('li', {}, chips[i] ?? f.id, ' ', h('span', {}, f.reason ?? ''))),
  );
}

/** Screen pixels per kernel element that fit the grid in `width` (quarter steps, 0.25 … 12). */
function gridPixels(shape: readonly number[], width: number): number {
  const imgW = layerGridLayout(shape).width;
  return Math.max(0.25, Math.min(12, Math.floor((width / imgW) * 4) / 4));
}

async function render(src: LayerSource, index: number): Promise<void> {
  const mine = ++ticket;
  const p = panel!;
  const l = src.layers[index];
  const n = src.layers.length;
  const prev = h('button', { type: 'button', id: 'lv-prev', disabled: index === 0 }, '← previous');
  const next = h('button', { type: 'button', id: 'lv-next', disabled: index === n - 1 }, 'next →');
  const close = h('button', { type: 'button', id: 'lv-close', class: 'close', 'aria-label': 'Close' }, '×');
  prev.addEventListener('click', () => step(-1));
  next.addEventListener('click', () => step(1));
  close.addEventListener('click', closeLayerView);
  const body = h('div', { class: 'lv-grid-area' }, loading('Loading the weights…'));
  const shape = l.shape ? `${l.shape.join('×')}` : '–';
  p.dataset.layer = String(index);
  p.dataset.ready = 'false';
  // keyboard users keep their place on previous / next while stepping
  const focused = p.contains(document.activeElement) ? document.activeElement?.id : undefined;
  p.replaceChildren(
    h(
      'header',
      { class: 'lv-head' },
      h('h2', { id: 'lv-title' }, h('span', { class: 'lname', title: l.name }, l.name)),
      h('span', { class: 'muted small lv-pos' }, `layer ${index + 1} of ${n}`),
      h('div', { class: 'lv-nav' }, prev, next, close),
    ),
    h(
      'p',
      { class: 'muted small' },
      `${l.op}${l.kind ? ` · ${l.kind}` : ''} · ${shape}${l.convDepth !== null ? ` · conv depth ${l.convDepth}` : ''}`,
    ),
    metricsList(l),
    flagList(l),
    body,
  );
  const again = focused ? p.querySelector<HTMLButtonElement>(`#${focused}`) : null;
  if (again && !again.disabled) again.focus();
  else if (!p.contains(document.activeElement)) p.focus();
  try {
    const w = await src.load(index);
    if (mine !== ticket) return;
    const grid = gridSection(index === 0 && l.shape !== null, w);
    body.replaceChildren(grid.element);
    grid.draw();
  } catch (e) {
    if (mine !== ticket) return;
    body.replaceChildren(errorBox((e as Error).message));
  }
  p.dataset.ready = 'true';
}

/** The grid with its controls; `first`: the model's first layer, whose inputs are the image's channels. */
function gridSection(first: boolean, w: ViewWeights): { element: HTMLElement; draw: () => void } {
  const [out, inPer, kh, kw] = w.shape;
  const oneByOne = kh * kw === 1;
  const dead = new Set(w.dead);
  // the first layer's inputs are the image's channels, in whatever order the model was trained on
  const colName = first ? 'input channel = image channel' : 'input channel';
  const figure = h('figure', { class: 'lv-grid' });
  const scroller = h(
    'div',
    { class: 'lv-scroll', tabindex: 0, 'aria-label': 'filter grid (scrolls)' },
    figure,
  );
  const tip = h('div', { class: 'plot-tip lv-tip', role: 'tooltip', hidden: true });
  const data = h('div', { class: 'lv-data' });
  const draw = () => {
    const px = settings.zoom || gridPixels(w.shape, Math.max(60, scroller.clientWidth - 190));
    figure.innerHTML = layerGridSvg(w.weights, w.shape, {
      scale: settings.scale,
      pixel: px,
      dead: settings.markDead ? w.dead : undefined,
      colName,
      title: oneByOne ? 'Weight matrix (1×1 kernels): output × input' : 'Filters: output × input channels',
      subtitle:
        (out < w.fullShape[0] ? `output channels 0–${out - 1} of ${w.fullShape[0]} · ` : '') +
        `weights from the ${w.source}` +
        (first
          ? ` · image channels ${Array.from({ length: inPer }, (_, i) => i).join(', ')} in the file’s order (R G B, or B G R for OpenCV-trained models)`
          : ''),
      ...APP_PLOT,
    });
    // the numbers do not change with zoom or colour scale: the table is made once (and keeps its open state)
    const table = takeDataTable(figure);
    if (table && !data.firstChild) data.append(table);
    figure.dataset.scale = settings.scale;
    figure.dataset.pixel = String(px);
    zoomLabel.textContent = `${px}× px`;
  };
  const radio = (value: 'layer' | 'filter', label: string) => {
    const input = h('input', {
      type: 'radio',
      name: 'lv-scale',
      id: `lv-scale-${value}`,
      value,
      checked: settings.scale === value,
    });
    input.addEventListener('change', () => {
      settings.scale = value;
      draw();
    });
    return h('label', { for: `lv-scale-${value}` }, input, ` ${label}`);
  };
  const zoomLabel = h('span', { class: 'muted small', id: 'lv-zoom-level' });
  const zoomBy = (f: number) => {
    const px = Number(figure.dataset.pixel);
    settings.zoom = Math.max(0.25, Math.min(32, px * f));
    draw();
  };
  const zoomIn = h('button', { type: 'button', id: 'lv-zoom-in', 'aria-label': 'Zoom in' }, '+');
  const zoomOut = h('button', { type: 'button', id: 'lv-zoom-out', 'aria-label': 'Zoom out' }, '−');
  const zoomFit = h('button', { type: 'button', id: 'lv-zoom-fit' }, 'fit');
  zoomIn.addEventListener('click', () => zoomBy(2));
  zoomOut.addEventListener('click', () => zoomBy(0.5));
  zoomFit.addEventListener('click', () => {
    settings.zoom = 0;
    draw();
  });
  const deadBox = h('input', { type: 'checkbox', id: 'lv-dead', checked: settings.markDead });
  deadBox.addEventListener('change', () => {
    settings.markDead = deadBox.checked;
    draw();
  });
  const controls = h(
    'div',
    { class: 'lv-controls' },
    h(
      'fieldset',
      {},
      h('legend', {}, 'Colour scale'),
      radio('layer', 'per layer'),
      radio('filter', oneByOne ? 'per output row' : 'per filter'),
    ),
    h('div', { class: 'lv-zoom', role: 'group', 'aria-label': 'Zoom' }, zoomOut, zoomIn, zoomFit, zoomLabel),
    h('label', { for: 'lv-dead' }, deadBox, ` mark near-zero filters (${w.deadCount} in the layer)`),
  );
  // the value under the pointer: the image carries its geometry
  figure.addEventListener('mousemove', (e) => {
    const img = figure.querySelector<SVGImageElement>('image.fdb-layergrid');
    if (!img) return;
    const g = JSON.parse(img.dataset.geometry ?? '{}') as { rows: number; cols: number; wrap: number };
    const r = img.getBoundingClientRect();
    const col = Math.floor(((e.clientX - r.left) / r.width) * g.cols);
    const row = Math.floor(((e.clientY - r.top) / r.height) * g.rows);
    if (row < 0 || col < 0 || row >= g.rows || col >= g.cols) {
      tip.hidden = true;
      return;
    }
    const f = row * g.cols + col;
    if (g.wrap && f >= out) {
      tip.hidden = true;
      return;
    }
    const k = kh * kw;
    let peak = 0;
    for (let i = 0; i < k; i++) peak = Math.max(peak, Math.abs(w.weights[f * k + i]));
    const value = oneByOne ? `w = ${fmt(w.weights[f], 4)}` : `max |w| ${fmt(peak, 4)}`;
    const where = g.wrap ? `output ${f}` : `output ${row}, input ${col}`;
    tip.textContent = `${where}: ${value}${dead.has(f) ? ' · near zero' : ''}`;
    tip.hidden = false;
    const box = scroller.getBoundingClientRect();
    tip.style.left = `${e.clientX - box.left + scroller.scrollLeft + 12}px`;
    tip.style.top = `${e.clientY - box.top + scroller.scrollTop + 12}px`;
  });
  figure.addEventListener('mouseleave', () => {
    tip.hidden = true;
  });
  scroller.append(tip);
  const wrap = h('div', {}, controls, scroller, data);
  if (first && inPer === 3 && !oneByOne)
    wrap.append(
      svgFigure(
        rgbFilterGridSvg(w.weights, w.shape, {
          title: 'First layer as colour images (channels 0, 1, 2 → R, G, B)',
          ...APP_PLOT,
        }),
        undefined,
        'grid',
      ),
    );
  return { element: wrap, draw };
}
