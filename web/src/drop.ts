/**
 * The drop-a-model page: the file(s) are analysed in a Web Worker with the core code (nothing is uploaded),
 * with progress; the result shows the layer table, metric curves, eigen-images and filter grids, and can be
 * added to the server's database.
 */
import { zipSync } from 'fflate';
import { isDegenerated } from '../../src/metrics/flags.js';
import type { QualityReport } from '../../src/metrics/layer-report.js';
import { DEFAULT_SPARSITY_EPS, scanWeights } from '../../src/metrics/quality.js';
import { modelNameOfPath } from '../../src/model/names.js';
import { metricCurvesSvg } from '../../src/report/svg/index.js';
import { getJson, info, postBytes } from './api.js';
import { droppedAtlasSections } from './atlas.js';
import { saveBlob, slug } from './download.js';
import { closeLayerView, followLayerView, openLayerView, setLayerSource } from './layer-view.js';
import { basisFigures, layersSection, modelSections } from './model-sections.js';
import { linkPlotsAndTable } from './plot-links.js';
import { probeSection } from './probe.js';
import type { FromWorker, ToWorker } from './protocol.js';
import { onSamePage, parseRoute, popState, pushState, type Route, routeHash } from './router.js';
import { enhanceLayerTable } from './table.js';
import { APP_PLOT, alphaFigure, errorBox, filterFigures, h, layerTable, svgFigure } from './ui.js';

interface DropState {
  files: File[];
  main: string;
  /** What the result is called: the main file's name, or its folder's for a generic one (TF.js model.json). */
  title: string;
  result: Extract<FromWorker, { type: 'result' }> | null;
  error: string | null;
  /** Milliseconds from choosing the file to the rendered layer table. */
  ms: number | null;
}

let state: DropState | null = null;
let worker: Worker | null = null;
let requests = 0;
const pending = new Map<number, (m: FromWorker) => void>();

function getWorker(): Worker {
  if (!worker) {
    worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module' });
  }
  return worker;
}

/** The model's main file among several dropped files (TF.js model.json, shard indexes, else a model extension). */
export function mainFile(files: readonly File[]): File {
  const rank = (f: File) => {
    const n = f.name.toLowerCase();
    if (n === 'model.json' || n.endsWith('.index.json')) return 0;
    if (/\.(onnx|pt|pth|ckpt|safetensors|tflite|h5|hdf5|keras)$/.test(n)) return 1;
    if (n.endsWith('.json')) return 2;
    return 3;
  };
  return [...files].sort((a, b) => rank(a) - rank(b))[0];
}

export function dropPage(root: HTMLElement, route?: Route): void {
  const input = h('input', { type: 'file', id: 'file-input', multiple: true, class: 'visually-hidden' });
  const folder = h('input', {
    type: 'file',
    id: 'folder-input',
    webkitdirectory: true,
    class: 'visually-hidden',
    'aria-label': 'choose a model folder',
  });
  const zone = h(
    'label',
    { class: 'dropzone', for: 'file-input', id: 'dropzone' },
    h('strong', {}, 'Drop a model file or folder here'),
    h('span', { class: 'muted' }, ' or click to choose a file'),
    h(
      'span',
      { class: 'small muted block' },
      'ONNX, PyTorch (.pt/.pth), safetensors, TF.js (model.json + shards: drop them together, or their folder), TFLite, Keras (.h5/.keras). The file is read in your browser; nothing is uploaded.',
    ),
  );
  const folderLink = h(
    'p',
    { class: 'small' },
    h('label', { for: 'folder-input', class: 'link' }, 'Choose a folder'),
    ' (a TF.js model: model.json and its shards)',
  );
  const status = h('div', { id: 'drop-status', 'aria-live': 'polite' });
  const out = h('div', { id: 'drop-result' });
  for (const el of [input, folder])
    el.addEventListener('change', () => {
      const files = [...(el.files ?? [])];
      // cleared, so choosing the same file again is a change that re-runs the analysis
      el.value = '';
      if (files.length)
        start(
          picked(files, (f) => f.webkitRelativePath || f.name),
          status,
          out,
        );
    });
  zone.addEventListener('dragover', (e) => {
    e.preventDefault();
    zone.classList.add('over');
  });
  zone.addEventListener('dragleave', () => zone.classList.remove('over'));
  zone.addEventListener('drop', async (e) => {
    e.preventDefault();
    zone.classList.remove('over');
    const files = await droppedFiles(e.dataTransfer);
    if (files.files.length) start(files, status, out);
  });
  root.replaceChildren(h('h1', {}, 'Analyse a model file'), input, folder, zone, folderLink, status, out);
  if (state?.result) renderResult(out, state, route?.layer ?? null);
  else if (state?.error) out.replaceChildren(errorBox(state.error));
}

interface Picked {
  files: File[];
  /** Each file's path relative to what was chosen ("x2/model.json"; just the name for loose files). */
  paths: Map<File, string>;
}

function picked(files: File[], path: (f: File) => string): Picked {
  return { files, paths: new Map(files.map((f) => [f, path(f)])) };
}

/** Dropped files, a dropped folder's files included (with their paths, which name a TF.js model). */
async function droppedFiles(dt: DataTransfer | null): Promise<Picked> {
  const entries = [...(dt?.items ?? [])]
    .map((item) => item.webkitGetAsEntry?.())
    .filter((e): e is FileSystemEntry => !!e);
  if (!entries.some((e) => e.isDirectory)) return picked([...(dt?.files ?? [])], (f) => f.name);
  const out: Picked = { files: [], paths: new Map() };
  const visit = async (entry: FileSystemEntry): Promise<void> => {
    if (entry.isFile) {
      const file = await new Promise<File>((resolve, reject) =>
        (entry as FileSystemFileEntry).file(resolve, reject),
      );
      out.files.push(file);
      out.paths.set(file, entry.fullPath.replace(/^\//, ''));
    } else if (entry.isDirectory) {
      const reader = (entry as FileSystemDirectoryEntry).createReader();
      // readEntries answers in batches until an empty one
      for (;;) {
        const batch = await new Promise<FileSystemEntry[]>((resolve, reject) =>
          reader.readEntries(resolve, reject),
        );
        if (!batch.length) break;
        for (const e of batch) await visit(e);
      }
    }
  };
  for (const e of entries) await visit(e);
  return out;
}

function start(chosen: Picked, status: HTMLElement, out: HTMLElement): void {
  const t0 = performance.now();
  const files = chosen.files;
  const main = mainFile(files);
  // a generic main file (TF.js model.json) is named by its folder, when the folder was chosen or dropped
  const byPath = modelNameOfPath(chosen.paths.get(main) ?? main.name);
  const title = byPath === modelNameOfPath(main.name) ? main.name : byPath;
  state = { files, main: main.name, title, result: null, error: null, ms: null };
  const mine = state;
  const bar = h('progress', { max: 1, value: 0, 'aria-label': 'analysis progress' });
  const label = h('span', {}, `Reading ${title}…`);
  status.replaceChildren(h('div', { class: 'progress' }, bar, label));
  out.replaceChildren();
  out.removeAttribute('data-ms');
  const w = getWorker();
  w.onmessage = (event: MessageEvent<FromWorker>) => {
    const msg = event.data;
    if ('request' in msg && msg.request !== undefined) {
      pending.get(msg.request)?.(msg);
      pending.delete(msg.request);
      return;
    }
    if (state !== mine) return;
    if (msg.type === 'progress') {
      bar.max = Math.max(1, msg.total);
      bar.value = msg.done;
      label.textContent =
        msg.phase === 'reading' ? `Reading ${title}…` : `Measuring layer ${msg.done} of ${msg.total}…`;
    } else if (msg.type === 'result') {
      mine.result = msg;
      renderResult(out, mine, null);
      mine.ms = performance.now() - t0;
      out.dataset.ms = mine.ms.toFixed(0);
      status.replaceChildren(
        h(
          'p',
          { class: 'muted small', id: 'drop-time' },
          `Analysed in ${(mine.ms / 1000).toFixed(2)} s (reading ${(msg.timings.read / 1000).toFixed(2)} s, measuring ${(msg.timings.measure / 1000).toFixed(2)} s).`,
        ),
      );
    } else if (msg.type === 'error') {
      mine.error = msg.message;
      status.replaceChildren();
      out.replaceChildren(errorBox(msg.message));
    }
  };
  w.postMessage({ type: 'analyse', files, main: main.name });
}

/** Asks the worker (which holds the model) and waits for its answer to this request. */
function ask(message: ToWorker): Promise<FromWorker> {
  const request = ++requests;
  return new Promise((resolve, reject) => {
    pending.set(request, (m) => (m.type === 'error' ? reject(new Error(m.message)) : resolve(m)));
    getWorker().postMessage({ ...message, request });
  });
}

async function layerWeights(name: string): Promise<{ shape: number[]; weight: Float32Array }> {
  const m = await ask({ type: 'layer', name, request: 0 });
  if (m.type !== 'layer') throw new Error(`the worker answered ${m.type}`);
  return { shape: m.shape, weight: m.weight };
}

/** The self-contained HTML report of the dropped model (`filterdb report`'s), written in the worker. */
async function reportHtml(): Promise<string> {
  const m = await ask({ type: 'report', request: 0 });
  if (m.type !== 'report') throw new Error(`the worker answered ${m.type}`);
  return m.html;
}

function renderResult(out: HTMLElement, s: DropState, openLayer: number | null): void {
  const r = s.result!;
  const q: QualityReport = r.report;
  const flagged = q.layers.filter((l) => isDegenerated(l.flags));
  const addBox = h('div', { class: 'add' });
  const report = h('button', { type: 'button', class: 'dl', id: 'drop-report' }, 'HTML report of this model');
  report.addEventListener('click', async () => {
    report.disabled = true;
    try {
      saveBlob(
        `${slug(s.title, 'model')}-report.html`,
        new Blob([await reportHtml()], { type: 'text/html' }),
      );
    } catch (e) {
      report.after(errorBox((e as Error).message));
    } finally {
      report.disabled = false;
    }
  });
  const summary = h(
    'div',
    { class: `summary ${flagged.length ? 'bad' : 'good'}`, id: 'drop-summary' },
    h(
      'p',
      {},
      h('b', { id: 'drop-title', title: s.main }, s.title),
      ` · ${q.format}${q.producer ? ` (${q.producer})` : ''} · ${q.layers.length} conv layers measured`,
      q.skipped.length ? ` · ${q.skipped.length} skipped` : '',
      ' · ',
      flagged.length ? h('b', {}, `${flagged.length} degenerated`) : 'no degenerated layers',
    ),
    q.warnings.length
      ? h(
          'ul',
          { class: 'warnings' },
          q.warnings.map((w) => h('li', {}, w)),
        )
      : null,
    h('p', { class: 'downloads' }, report),
    addBox,
  );
  void addButton(addBox, s);
  const grids = h('div', { id: 'filters' });
  const show = async (index: number) => {
    const layer = q.layers[index];
    try {
      const { weight, shape } = await layerWeights(layer.name);
      grids.replaceChildren(filterFigures(layer.name, weight, layer.measuredAs ?? shape, ''));
    } catch (e) {
      grids.replaceChildren(errorBox((e as Error).message));
    }
  };
  let links: ReturnType<typeof linkPlotsAndTable> | null = null;
  setLayerSource({
    model: 'drop',
    layers: q.layers,
    onShow: (i) => links?.select(i),
    async load(index) {
      const layer = q.layers[index];
      const { weight, shape } = await layerWeights(layer.name);
      const planar = layer.measuredAs ?? shape;
      const k = planar[2] * planar[3];
      const n = planar[0] * planar[1];
      // the near-zero filters exactly as the sparsity metric counts them
      const scan = scanWeights(weight, n, k, DEFAULT_SPARSITY_EPS);
      const dead: number[] = [];
      for (let i = 0; i < n; i++) if (scan.keep[i] === 0) dead.push(i);
      return {
        shape: planar,
        fullShape: planar,
        weights: weight,
        dead,
        deadCount: scan.sparseCount,
        source: 'dropped file',
      };
    },
  });
  // the layer view's state in the URL (#/drop/layer/L): opening or stepping adds an entry, closing goes back
  followLayerView((state) => {
    if (state && state.model === 'drop') pushState(routeHash({ page: 'drop', layer: state.layer }));
    else if (!state && parseRoute(location.hash).layer !== null) popState(routeHash({ page: 'drop' }));
  });
  onSamePage((route) => {
    if (route.layer !== null && route.layer < q.layers.length) openLayerView('drop', route.layer);
    else closeLayerView();
    return true;
  });
  const pick = (i: number) => openLayerView('drop', i);
  const table = layerTable(q.layers, pick);
  const curves = svgFigure(
    metricCurvesSvg(q.layers, { ...APP_PLOT, width: 1080, hitColumns: true }),
    'Degenerated layers are marked; point at a layer for its values, click it for its filters.',
  );
  const alpha = alphaFigure(q.layers);
  const basis = r.basis;
  out.replaceChildren(
    summary,
    ...modelSections({
      layers: layersSection(table, q.layers, s.title),
      metrics: curves,
      alpha,
      basis: basisFigures(basis, r.basisNote),
      firstLayer: grids,
    }),
    ...droppedAtlasSections(r.atlas, r.energy),
    q.layers.length ? probeSection({ kind: 'files', files: s.files, main: s.main }, s.main) : '',
  );
  enhanceLayerTable(table);
  links = linkPlotsAndTable(alpha ? [curves, alpha] : [curves], table, q.layers, pick);
  if (q.layers.length) void show(0);
  if (openLayer !== null && openLayer < q.layers.length) openLayerView('drop', openLayer);
}

async function sha256Hex(data: BufferSource): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', data));
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * The content hash ingest stores (store/walk.ts hashModel): one file, "sha256:" + its hash; several, the
 * hash of "name NUL sha256(file) LF" lines in name order.
 */
export async function contentHash(files: readonly File[]): Promise<string> {
  if (files.length === 1) return `sha256:${await sha256Hex(await files[0].arrayBuffer())}`;
  const sorted = [...files].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  let lines = '';
  for (const f of sorted) lines += `${f.name}\0${await sha256Hex(await f.arrayBuffer())}\n`;
  return `sha256:${await sha256Hex(new TextEncoder().encode(lines))}`;
}

/** The stored model with the same bytes, if any (null also where the browser cannot hash: no secure context). */
async function storedAs(files: readonly File[]): Promise<{ id: number; name: string } | null> {
  if (!globalThis.crypto?.subtle) return null;
  try {
    const hash = await contentHash(files);
    const { models } = await getJson<{ models: { id: number; name: string }[] }>(
      `/api/models?hash=${encodeURIComponent(hash)}`,
    );
    return models[0] ?? null;
  } catch {
    return null;
  }
}

async function addButton(box: HTMLElement, s: DropState): Promise<void> {
  const i = await info();
  if (!i.db) {
    box.replaceChildren(
      h('p', { class: 'muted small' }, 'Start the server with --db to add models to a database.'),
    );
    return;
  }
  const size = s.files.reduce((t, f) => t + f.size, 0);
  const known = size <= i.maxUpload ? await storedAs(s.files) : null;
  if (known) {
    // said before any upload: the database already holds these exact bytes
    box.replaceChildren(
      h(
        'p',
        { class: 'small', id: 'already-stored' },
        `Already in the database as ${known.name} (id ${known.id}, same bytes): `,
        h('a', { href: routeHash({ page: 'model', model: known.id }) }, 'open it'),
      ),
    );
    return;
  }
  if (i.readOnly) {
    box.replaceChildren(h('p', { class: 'muted small' }, 'The database is open read-only.'));
    return;
  }
  const button = h('button', { type: 'button', id: 'add-to-db', class: 'primary' }, 'Add to database');
  const note = h('span', { class: 'muted small' }, ` uploads ${(size / 1e6).toFixed(1)} MB to ${i.db}`);
  box.replaceChildren(button, note);
  if (size > i.maxUpload) {
    button.disabled = true;
    note.textContent = ` too large to upload (limit ${i.maxUploadText})`;
    return;
  }
  button.addEventListener('click', async () => {
    button.disabled = true;
    note.textContent = ' uploading…';
    try {
      let body: Blob;
      let query = `name=${encodeURIComponent(s.main)}`;
      if (s.files.length > 1) {
        const entries: Record<string, [Uint8Array, { level: 0 }]> = {};
        for (const f of s.files) entries[f.name] = [new Uint8Array(await f.arrayBuffer()), { level: 0 }];
        body = new Blob([zipSync(entries) as Uint8Array<ArrayBuffer>]);
        query += '&bundle=1';
      } else body = s.files[0];
      const r = await postBytes<{ status: string; modelId: number | null; message: string }>(
        `/api/models?${query}`,
        body,
      );
      info(true);
      box.replaceChildren(
        h(
          'p',
          { class: 'small', id: 'add-result' },
          r.message,
          ' ',
          r.modelId !== null ? h('a', { href: `#/model/${r.modelId}` }, 'open it') : '',
        ),
      );
    } catch (e) {
      button.disabled = false;
      box.append(errorBox((e as Error).message));
      note.textContent = '';
    }
  });
}
