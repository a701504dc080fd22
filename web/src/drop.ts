/**
 * The drop-a-model page: the file(s) are analysed in a Web Worker with the core code (nothing is uploaded),
 * with progress; the result shows the layer table, metric curves, eigen-images and filter grids, and can be
 * added to the server's database.
 */
import { zipSync } from 'fflate';
import { isDegenerated } from '../../src/metrics/flags.js';
import type { QualityReport } from '../../src/metrics/layer-report.js';
import { cumulativeVarianceSvg, eigenImagesSvg, metricCurvesSvg } from '../../src/report/svg/index.js';
import { info, postBytes } from './api.js';
import { droppedAtlasSections } from './atlas.js';
import { probeSection } from './probe.js';
import type { FromWorker } from './protocol.js';
import { alphaFigure, errorBox, filterFigures, h, layerTable, showDialog, svgFigure } from './ui.js';

interface DropState {
  files: File[];
  main: string;
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

export function dropPage(root: HTMLElement): void {
  const input = h('input', { type: 'file', id: 'file-input', multiple: true, class: 'visually-hidden' });
  const zone = h(
    'label',
    { class: 'dropzone', for: 'file-input', id: 'dropzone' },
    h('strong', {}, 'Drop a model file here'),
    h('span', { class: 'muted' }, ' or click to choose one'),
    h(
      'span',
      { class: 'small muted block' },
      'ONNX, PyTorch (.pt/.pth), safetensors, TF.js (model.json + shards: drop them together), TFLite, Keras (.h5/.keras). The file is read in your browser; nothing is uploaded.',
    ),
  );
  const status = h('div', { id: 'drop-status', 'aria-live': 'polite' });
  const out = h('div', { id: 'drop-result' });
  input.addEventListener('change', () => {
    if (input.files?.length) start([...input.files], status, out);
  });
  zone.addEventListener('dragover', (e) => {
    e.preventDefault();
    zone.classList.add('over');
  });
  zone.addEventListener('dragleave', () => zone.classList.remove('over'));
  zone.addEventListener('drop', (e) => {
    e.preventDefault();
    zone.classList.remove('over');
    const files = [...(e.dataTransfer?.files ?? [])];
    if (files.length) start(files, status, out);
  });
  root.replaceChildren(h('h1', {}, 'Analyse a model file'), input, zone, status, out);
  if (state?.result) renderResult(out, state);
  else if (state?.error) out.replaceChildren(errorBox(state.error));
}

function start(files: File[], status: HTMLElement, out: HTMLElement): void {
  const t0 = performance.now();
  const main = mainFile(files);
  state = { files, main: main.name, result: null, error: null, ms: null };
  const mine = state;
  const bar = h('progress', { max: 1, value: 0 });
  const label = h('span', {}, `Reading ${main.name}…`);
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
        msg.phase === 'reading' ? `Reading ${main.name}…` : `Measuring layer ${msg.done} of ${msg.total}…`;
    } else if (msg.type === 'result') {
      mine.result = msg;
      renderResult(out, mine);
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

function layerWeights(name: string): Promise<{ shape: number[]; weight: Float32Array }> {
  const request = ++requests;
  return new Promise((resolve, reject) => {
    pending.set(request, (m) => {
      if (m.type === 'layer') resolve({ shape: m.shape, weight: m.weight });
      else if (m.type === 'error') reject(new Error(m.message));
    });
    getWorker().postMessage({ type: 'layer', name, request });
  });
}

function renderResult(out: HTMLElement, s: DropState): void {
  const r = s.result!;
  const q: QualityReport = r.report;
  const flagged = q.layers.filter((l) => isDegenerated(l.flags));
  const addBox = h('div', { class: 'add' });
  const summary = h(
    'div',
    { class: `summary ${flagged.length ? 'bad' : 'good'}`, id: 'drop-summary' },
    h(
      'p',
      {},
      h('b', {}, s.main),
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
    addBox,
  );
  void addButton(addBox, s);
  const grids = h('div', { id: 'filters' });
  const show = async (index: number, inDialog: boolean) => {
    const layer = q.layers[index];
    const target = inDialog ? h('div', {}, 'Loading…') : grids;
    if (inDialog) showDialog(layer.name, target);
    try {
      const { weight, shape } = await layerWeights(layer.name);
      target.replaceChildren(filterFigures(layer.name, weight, layer.measuredAs ?? shape, '', inDialog));
    } catch (e) {
      target.replaceChildren(errorBox((e as Error).message));
    }
  };
  const basis = r.basis;
  out.replaceChildren(
    summary,
    h('h2', {}, 'Layers'),
    h('p', { class: 'muted' }, 'Click a layer to see its filters large.'),
    layerTable(q.layers, (i) => show(i, true)),
    h('h2', {}, 'Metrics over depth'),
    svgFigure(
      metricCurvesSvg(q.layers, { embedStyle: false, width: 1080 }),
      'Degenerated layers are marked.',
    ),
    alphaFigure(q.layers) ? h('h2', {}, 'Spectral alpha over depth') : '',
    alphaFigure(q.layers) ?? '',
    h('h2', {}, 'Filter basis of the model'),
    basis
      ? h(
          'div',
          { class: 'figs' },
          svgFigure(
            eigenImagesSvg(basis.components, basis.explainedVarianceRatio, {
              title: 'Eigen-images',
              subtitle: `${basis.filters.toLocaleString('en-US')} 3×3 filters from ${basis.layers} layers`,
              columns: 3,
              size: 60,
              embedStyle: false,
            }),
          ),
          svgFigure(
            cumulativeVarianceSvg(basis.explainedVarianceRatio, {
              title: 'Cumulative explained variance',
              width: 360,
              height: 230,
              embedStyle: false,
            }),
          ),
        )
      : h('p', { class: 'muted' }, r.basisNote ?? ''),
    h('h2', {}, 'Filters of the first layer'),
    grids,
    ...droppedAtlasSections(r.atlas, r.energy),
    q.layers.length ? probeSection({ kind: 'files', files: s.files, main: s.main }, s.main) : '',
  );
  if (q.layers.length) void show(0, false);
}

async function addButton(box: HTMLElement, s: DropState): Promise<void> {
  const i = await info();
  if (!i.db) {
    box.replaceChildren(
      h('p', { class: 'muted small' }, 'Start the server with --db to add models to a database.'),
    );
    return;
  }
  if (i.readOnly) {
    box.replaceChildren(h('p', { class: 'muted small' }, 'The database is open read-only.'));
    return;
  }
  const size = s.files.reduce((t, f) => t + f.size, 0);
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
