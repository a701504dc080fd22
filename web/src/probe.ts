/**
 * "Your image through the first layer": on a model page, an image (dropped, picked, or the built-in synthetic
 * one) is normalised and convolved with the model's first conv layer in a Web Worker (probe-worker.ts, the core's
 * analysis/first-layer-conv.ts); every output channel's map is shown as a grid, and a seeded perturbation
 * (uniform noise or a ±ε sign pattern) gives per channel the clean and perturbed maps and the amplification
 * ‖Δ output‖ / ‖Δ input‖ as a sorted bar chart with the layer mean. A second model can run side by side.
 */
import {
  type ConvSpec,
  convGeometry,
  convSpecOf,
  NORMALISATIONS,
  type Perturbation,
  syntheticImage,
} from '../../src/analysis/first-layer-conv.js';
import { amplificationBarsSvg } from '../../src/report/svg/amplification.js';
import { divergingRgb } from '../../src/report/svg/color.js';
import { getJson, info, type ModelSummary } from './api.js';
import { mainFile } from './drop.js';
import type { FirstLayer, FromProbe, ProbeImage, ProbeRun, ToProbe } from './probe-protocol.js';
import { APP_PLOT, errorBox, h, svgFigure } from './ui.js';
import './probe.css';

/** Where a probed layer comes from: a stored model (fetched from the server) or dropped files (read in the worker). */
export type ProbeSource =
  | { kind: 'database'; id: number; name: string }
  | { kind: 'files'; files: File[]; main: string };

const SLOT_COLORS = ['var(--fdb-accent,#0072b2)', '#b35900'];
const MAX_EPS_STEPS = 32;

let worker: Worker | null = null;
let requests = 0;
const pending = new Map<number, { resolve: (m: FromProbe) => void; reject: (e: Error) => void }>();

function probeWorker(): Worker {
  if (!worker) {
    worker = new Worker(new URL('./probe-worker.ts', import.meta.url), { type: 'module' });
    worker.onmessage = (event: MessageEvent<FromProbe>) => {
      const p = pending.get(event.data.request);
      pending.delete(event.data.request);
      if (!p) return;
      if (event.data.type === 'error') p.reject(new Error(event.data.message));
      else p.resolve(event.data);
    };
  }
  return worker;
}

type Request = ToProbe extends infer T ? (T extends { request: number } ? Omit<T, 'request'> : never) : never;

function ask(message: Request, transfer: Transferable[] = []): Promise<FromProbe> {
  const request = ++requests;
  return new Promise((resolve, reject) => {
    pending.set(request, { resolve, reject });
    probeWorker().postMessage({ ...message, request } as ToProbe, transfer);
  });
}

/** The first layer of a stored model, from GET /api/models/:id/first-layer. */
async function databaseLayer(id: number, name: string): Promise<FirstLayer> {
  const a = await getJson<Omit<FirstLayer, 'weights' | 'model'> & { weights: number[] }>(
    `/api/models/${id}/first-layer`,
  );
  return { ...a, model: name, weights: Float32Array.from(a.weights) };
}

async function loadLayer(source: ProbeSource): Promise<FirstLayer> {
  if (source.kind === 'database') return databaseLayer(source.id, source.name);
  const m = await ask({ type: 'read', files: source.files, main: source.main });
  if (m.type !== 'read') throw new Error('unexpected answer from the probe worker');
  return m.layer;
}

/** The image as the probe takes it: shorter side scaled to 224 and centre-cropped, or as is (up to 1024 px). */
async function decodeImage(file: Blob, size: string): Promise<ProbeImage> {
  const bmp = await createImageBitmap(file, { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
  let W = bmp.width;
  let H = bmp.height;
  let sx = 0;
  let sy = 0;
  let sw = W;
  let sh = H;
  if (size === 'crop224') {
    const side = Math.min(W, H);
    sx = Math.floor((W - side) / 2);
    sy = Math.floor((H - side) / 2);
    sw = sh = side;
    W = H = 224;
  } else {
    const f = Math.min(1, 1024 / Math.max(W, H));
    W = Math.max(1, Math.round(W * f));
    H = Math.max(1, Math.round(H * f));
  }
  const canvas = document.createElement('canvas');
  canvas.width = W;
  canvas.height = H;
  const ctx = canvas.getContext('2d', { willReadFrequently: true })!;
  ctx.imageSmoothingQuality = 'high';
  ctx.drawImage(bmp, sx, sy, sw, sh, 0, 0, W, H);
  bmp.close();
  const d = ctx.getImageData(0, 0, W, H);
  return { width: W, height: H, data: d.data };
}

interface Slot {
  index: number;
  layer: FirstLayer;
  spec: ConvSpec;
  run: ProbeRun | null;
  selected: number | null;
  el: HTMLElement;
}

/** 256-entry blue–white–red colour table. */
const LUT = (() => {
  const t = new Uint8ClampedArray(256 * 3);
  for (let i = 0; i < 256; i++) {
    const c = divergingRgb(i / 255);
    t.set([c[0], c[1], c[2]], 3 * i);
  }
  return t;
})();

/** One channel's map as a canvas, values in [−limit, limit] on the diverging map. */
function mapCanvas(
  values: Float32Array,
  offset: number,
  w: number,
  hgt: number,
  limit: number,
  label: string,
) {
  const canvas = h('canvas', { width: w, height: hgt, role: 'img', 'aria-label': label });
  const ctx = canvas.getContext('2d');
  if (!ctx) return canvas;
  const img = ctx.createImageData(w, hgt);
  for (let i = 0; i < w * hgt; i++) {
    const v = values[offset + i];
    const t = limit > 0 ? Math.round(127.5 + (127.5 * v) / limit) : 128;
    const k = 3 * Math.min(255, Math.max(0, t));
    img.data[4 * i] = LUT[k];
    img.data[4 * i + 1] = LUT[k + 1];
    img.data[4 * i + 2] = LUT[k + 2];
    img.data[4 * i + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
  return canvas;
}

function maxAbs(values: Float32Array, from: number, to: number): number {
  let m = 0;
  for (let i = from; i < to; i++) {
    const a = Math.abs(values[i]);
    if (a > m) m = a;
  }
  return m;
}

function geometryText(spec: ConvSpec, image: ProbeImage | null): string {
  const [out, inPer, kh, kw] = spec.shape;
  const pad =
    spec.padMode === 'explicit'
      ? `pads ${spec.pads.join(',')}`
      : spec.padMode === 'valid'
        ? 'VALID'
        : spec.padMode === 'same-upper'
          ? 'SAME'
          : 'SAME_LOWER';
  const g = image ? convGeometry(spec, image.height, image.width) : null;
  return (
    `${out}×${inPer * spec.groups}×${kh}×${kw} · stride ${spec.strides.join('×')} · ${pad} · dilation ${spec.dilations.join('×')}` +
    (spec.groups > 1 ? ` · groups ${spec.groups}` : '') +
    (g ? ` · output ${out}×${g.outH}×${g.outW}` : '')
  );
}

/** The probe section for a model page: `source` is this page's model. */
export function probeSection(source: ProbeSource, ownName: string): HTMLElement {
  const section = h('section', { class: 'probe', id: 'probe', 'aria-labelledby': 'probe-title' });
  const status = h(
    'p',
    { class: 'muted small', id: 'probe-status', 'aria-live': 'polite' },
    'Loading the first layer…',
  );
  const imageInput = h('input', {
    type: 'file',
    id: 'probe-image',
    accept: 'image/*',
    class: 'visually-hidden',
  });
  const imageZone = h(
    'label',
    { class: 'dropzone probe-drop', for: 'probe-image', id: 'probe-dropzone' },
    h('strong', {}, 'Drop an image here'),
    h('span', { class: 'muted' }, ' or click to choose one'),
  );
  const synthetic = h('button', { type: 'button', id: 'probe-synthetic' }, 'Synthetic test image');
  const size = h(
    'select',
    { id: 'probe-size' },
    h('option', { value: 'crop224' }, '224×224 centre crop'),
    h('option', { value: 'original' }, 'original size (≤ 1024 px)'),
  );
  const norm = h(
    'select',
    { id: 'probe-norm' },
    NORMALISATIONS.map((n) => h('option', { value: n.id }, n.label)),
  );
  norm.value = 'imagenet';
  const bgr = h('input', { type: 'checkbox', id: 'probe-bgr' });
  const kindSel = h(
    'select',
    { id: 'probe-kind' },
    h('option', { value: 'sign' }, 'random ±ε sign pattern'),
    h('option', { value: 'uniform' }, 'uniform noise in [−ε, ε]'),
  );
  const eps = h('input', { type: 'range', id: 'probe-eps', min: 0, max: MAX_EPS_STEPS, step: 1, value: 4 });
  const epsOut = h('output', { id: 'probe-eps-value', for: 'probe-eps' }, 'ε = 4/255');
  const seed = h('input', {
    type: 'number',
    id: 'probe-seed',
    min: 0,
    max: 2 ** 31,
    step: 1,
    value: 1,
    class: 'num',
  });
  const view = h(
    'select',
    { id: 'probe-view' },
    h('option', { value: 'clean' }, 'clean maps'),
    h('option', { value: 'perturbed' }, 'perturbed maps'),
    h('option', { value: 'delta' }, 'Δ maps (perturbed − clean)'),
  );
  const scale = h(
    'select',
    { id: 'probe-scale' },
    h('option', { value: 'channel' }, 'colour scale per channel'),
    h('option', { value: 'layer' }, 'colour scale per layer'),
  );
  const second = h('select', { id: 'probe-second' }, h('option', { value: '' }, 'no second model'));
  const secondFile = h('input', {
    type: 'file',
    id: 'probe-second-file',
    multiple: true,
    class: 'visually-hidden',
  });
  const secondFileLabel = h(
    'label',
    { for: 'probe-second-file', class: 'button-like', id: 'probe-second-file-label' },
    'or a model file…',
  );
  const thumb = h('div', { class: 'probe-thumb', id: 'probe-thumb' });
  const cols = h('div', { class: 'probe-cols', id: 'probe-cols' });
  const field = (label: string, control: HTMLElement, id: string) =>
    h('div', { class: 'probe-field' }, h('label', { for: id }, label), control);
  section.append(
    h('h2', { id: 'probe-title' }, 'Your image through the first layer'),
    h(
      'p',
      { class: 'muted' },
      'Robust models’ first layers tend to damp small input perturbations (Gavrikov & Keuper). Convolve an image with this model’s first conv layer in your browser, perturb it, and see which output channels amplify the perturbation: ‖Δ output‖ / ‖Δ input‖ per channel, with Δ input in the layer’s normalised input space. No bias is added (it cancels in Δ). Model files do not state the input normalisation they were trained with (none of the supported formats records it), so choose it here.',
    ),
    h(
      'div',
      { class: 'probe-controls panel' },
      h(
        'div',
        { class: 'probe-image-row' },
        imageInput,
        imageZone,
        synthetic,
        field('Image size', size, 'probe-size'),
        thumb,
      ),
      h(
        'div',
        { class: 'probe-row' },
        field('Normalisation', norm, 'probe-norm'),
        h('div', { class: 'probe-field' }, h('label', { for: 'probe-bgr' }, bgr, ' BGR channel order')),
        field('Perturbation', kindSel, 'probe-kind'),
        h('div', { class: 'probe-field' }, h('label', { for: 'probe-eps' }, 'Size '), eps, ' ', epsOut),
        field('Seed', seed, 'probe-seed'),
      ),
      h(
        'div',
        { class: 'probe-row' },
        field('Grid shows', view, 'probe-view'),
        field('Colours', scale, 'probe-scale'),
        field('Side by side with', second, 'probe-second'),
        secondFile,
        secondFileLabel,
      ),
    ),
    status,
    cols,
  );

  const slots: (Slot | null)[] = [null, null];
  let image: ProbeImage | null = null;
  let imageName = 'synthetic test image';
  let generation = 0;

  const perturbation = (): Perturbation => ({
    kind: kindSel.value === 'uniform' ? 'uniform' : 'sign',
    steps: Number(eps.value),
    seed: Math.max(0, Math.floor(Number(seed.value) || 0)),
  });
  const normalisation = () => NORMALISATIONS.find((n) => n.id === norm.value) ?? NORMALISATIONS[0];

  const runAll = async () => {
    const mine = ++generation;
    if (!image) return;
    const live = slots.filter((s): s is Slot => s !== null);
    if (live.length === 0) return;
    section.dataset.ready = 'false';
    status.textContent = 'Convolving…';
    try {
      const n = normalisation();
      for (const s of live) {
        const m = await ask({
          type: 'run',
          slot: s.index,
          norm: { mean: n.mean, std: n.std },
          bgr: bgr.checked,
          perturbation: perturbation(),
        });
        if (mine !== generation) return;
        if (m.type === 'run') s.run = m.run;
      }
      renderAll();
      const p = perturbation();
      status.textContent = `${imageName}, ${image.width}×${image.height} · ${n.label}${bgr.checked ? ', BGR' : ''} · ${p.kind === 'sign' ? '±ε sign pattern' : 'uniform noise'}, ε = ${p.steps}/255, seed ${p.seed}`;
      section.dataset.ready = 'true';
    } catch (e) {
      if (mine !== generation) return;
      status.replaceChildren(errorBox((e as Error).message));
      section.dataset.ready = 'error';
    }
  };

  const renderAll = () => {
    const live = slots.filter((s): s is Slot => s !== null && s.run !== null);
    let shared = 0;
    for (const s of live) for (const r of s.run!.ratios) if (Number.isFinite(r)) shared = Math.max(shared, r);
    for (const s of live) renderSlot(s, shared);
    cols.classList.toggle('two', live.length > 1);
  };

  const renderSlot = (s: Slot, sharedMax: number) => {
    const r = s.run!;
    const plane = r.height * r.width;
    const mode = view.value;
    const values = (c: number): Float32Array => {
      if (mode === 'clean') return r.clean;
      if (mode === 'delta') return r.delta;
      const p = new Float32Array(plane);
      for (let i = 0; i < plane; i++) p[i] = r.clean[c * plane + i] + r.delta[c * plane + i];
      return p;
    };
    const offset = (c: number) => (mode === 'perturbed' ? 0 : c * plane);
    const layerClean = maxAbs(r.clean, 0, r.clean.length);
    const layerDelta = maxAbs(r.delta, 0, r.delta.length);
    const limitOf = (c: number, delta: boolean) =>
      scale.value === 'layer'
        ? delta
          ? layerDelta
          : layerClean
        : delta
          ? maxAbs(r.delta, c * plane, (c + 1) * plane)
          : maxAbs(r.clean, c * plane, (c + 1) * plane);
    if (s.selected === null || s.selected >= r.channels) {
      let best = 0;
      for (let c = 1; c < r.channels; c++) if (r.ratios[c] > r.ratios[best]) best = c;
      s.selected = best;
    }
    const grid = h('div', { class: 'probe-grid', id: `probe-grid-${s.index}`, role: 'list' });
    for (let c = 0; c < r.channels; c++) {
      let l2 = 0;
      let sum = 0;
      for (let i = c * plane; i < (c + 1) * plane; i++) {
        l2 += r.clean[i] * r.clean[i];
        sum += r.clean[i];
      }
      const tile = h(
        'button',
        {
          type: 'button',
          class: `probe-tile${c === s.selected ? ' selected' : ''}`,
          role: 'listitem',
          'data-channel': c,
          'data-l2': Math.sqrt(l2),
          'data-mean': sum / plane,
          'data-ratio': r.ratios[c],
          title: `channel ${c}: amplification ${r.ratios[c].toPrecision(4)}`,
        },
        mapCanvas(
          values(c),
          offset(c),
          r.width,
          r.height,
          limitOf(c, mode === 'delta'),
          `channel ${c} ${mode} map`,
        ),
        h('span', { class: 'small' }, `${c} · ${r.ratios[c].toFixed(3)}`),
      );
      tile.addEventListener('click', () => {
        s.selected = c;
        renderSlot(s, sharedMax);
      });
      grid.append(tile);
    }
    const c = s.selected;
    const limit = limitOf(c, false);
    const pert = new Float32Array(plane);
    for (let i = 0; i < plane; i++) pert[i] = r.clean[c * plane + i] + r.delta[c * plane + i];
    const detail = h(
      'div',
      { class: 'probe-detail', id: `probe-detail-${s.index}`, 'data-channel': c },
      h(
        'figure',
        {},
        mapCanvas(r.clean, c * plane, r.width, r.height, limit, `channel ${c} clean map`),
        h('figcaption', {}, 'clean'),
      ),
      h(
        'figure',
        {},
        mapCanvas(pert, 0, r.width, r.height, limit, `channel ${c} perturbed map`),
        h('figcaption', {}, 'perturbed (same colours)'),
      ),
      h(
        'figure',
        {},
        mapCanvas(r.delta, c * plane, r.width, r.height, limitOf(c, true), `channel ${c} change`),
        h('figcaption', {}, 'Δ (own scale)'),
      ),
    );
    const bars = svgFigure(
      amplificationBarsSvg(r.ratios, r.mean, {
        title: `${s.layer.model}: amplification per channel`,
        subtitle: `‖Δ input‖ = ${r.inputNorm.toPrecision(4)}${r.inputNorm === 0 ? ' (no perturbation)' : ''}`,
        // drawn at the column's width, so its text stays 11 px on a phone instead of being scaled down
        width: Math.round(Math.min(720, Math.max(300, s.el.clientWidth || 560))),
        height: 230,
        max: sharedMax,
        color: SLOT_COLORS[s.index],
        ...APP_PLOT,
      }),
      undefined,
      'probe-bars',
    );
    bars.id = `probe-bars-${s.index}`;
    for (const rect of bars.querySelectorAll<SVGRectElement>('rect[data-channel]'))
      rect.addEventListener('click', () => {
        s.selected = Number(rect.dataset.channel);
        renderSlot(s, sharedMax);
      });
    const body = s.el.querySelector('.probe-body')!;
    body.replaceChildren(
      h(
        'p',
        {
          class: 'small probe-time',
          'data-ms-clean': r.ms.clean.toFixed(2),
          'data-ms-delta': r.ms.delta.toFixed(2),
        },
        `Layer mean amplification `,
        h('b', { class: 'probe-mean', 'data-value': r.mean }, r.mean.toFixed(4)),
        ` · convolution ${r.ms.clean > 0 ? `${r.ms.clean.toFixed(1)} ms clean + ` : ''}${r.ms.delta.toFixed(1)} ms perturbation, in a Web Worker`,
      ),
      bars,
      h('h4', {}, `Channel ${c}: amplification ${r.ratios[c].toPrecision(4)}`),
      detail,
      h(
        'h4',
        {},
        `All ${r.channels} channels (${view.selectedOptions[0].textContent}; click one to compare it)`,
      ),
      grid,
    );
  };

  const geometryControls = (s: Slot): HTMLElement => {
    const [, , kh] = s.spec.shape;
    const strideSel = h(
      'select',
      { id: `probe-stride-${s.index}` },
      [1, 2, 3, 4].map((v) => h('option', { value: v }, String(v))),
    );
    strideSel.value = String(s.spec.strides[0]);
    const padSel = h(
      'select',
      { id: `probe-pad-${s.index}` },
      h('option', { value: 'zero' }, 'no padding'),
      h('option', { value: 'half' }, `${Math.floor(kh / 2)} on each side`),
      h('option', { value: 'same' }, 'SAME'),
    );
    const apply = async () => {
      const p = Math.floor(kh / 2);
      s.spec = {
        ...s.spec,
        strides: [Number(strideSel.value), Number(strideSel.value)],
        padMode: padSel.value === 'same' ? 'same-upper' : 'explicit',
        pads: padSel.value === 'half' ? [p, p, p, p] : [0, 0, 0, 0],
      };
      await ask({ type: 'layer', slot: s.index, weights: s.layer.weights.slice(), spec: s.spec });
      s.el.querySelector('.probe-geometry')!.textContent = geometryText(s.spec, image);
      await runAll();
    };
    strideSel.addEventListener('change', apply);
    padSel.addEventListener('change', apply);
    return h(
      'div',
      { class: 'probe-row' },
      h('div', { class: 'probe-field' }, h('label', { for: strideSel.id }, 'Stride'), strideSel),
      h('div', { class: 'probe-field' }, h('label', { for: padSel.id }, 'Padding'), padSel),
    );
  };

  const setSlot = async (index: number, layer: FirstLayer) => {
    const { spec, notes } = convSpecOf(layer, layer.format);
    const el = h(
      'div',
      { class: 'probe-col', id: `probe-slot-${index}`, 'data-model': layer.model },
      h('h3', {}, layer.model),
      h('p', { class: 'small mono' }, layer.name),
      h('p', { class: 'small probe-geometry' }, geometryText(spec, image)),
      [...layer.notes, ...notes].length
        ? h(
            'ul',
            { class: 'warnings small' },
            [...new Set([...layer.notes, ...notes])].map((n) => h('li', {}, n)),
          )
        : null,
      h('div', { class: 'probe-body' }),
    );
    const s: Slot = { index, layer, spec, run: null, selected: null, el };
    if (!layer.geometryKnown) el.insertBefore(geometryControls(s), el.querySelector('.probe-body'));
    await ask({ type: 'layer', slot: index, weights: layer.weights.slice(), spec });
    slots[index] = s;
    const existing = cols.querySelector(`#probe-slot-${index}`);
    if (existing) existing.replaceWith(el);
    else if (index === 0) cols.prepend(el);
    else cols.append(el);
  };

  const setImage = async (img: ProbeImage, name: string) => {
    image = img;
    imageName = name;
    const c = h('canvas', {
      width: img.width,
      height: img.height,
      role: 'img',
      'aria-label': `input: ${name}`,
    });
    c.getContext('2d')?.putImageData(
      new ImageData(new Uint8ClampedArray(img.data), img.width, img.height),
      0,
      0,
    );
    thumb.replaceChildren(c);
    await ask({ type: 'image', image: { ...img, data: new Uint8ClampedArray(img.data) } });
    for (const s of slots)
      if (s) s.el.querySelector('.probe-geometry')!.textContent = geometryText(s.spec, image);
    await runAll();
  };

  const fail = (e: unknown) => {
    status.replaceChildren(errorBox((e as Error).message));
    section.dataset.ready = 'error';
  };

  let lastFile: File | null = null;
  const useFile = (file: File) => {
    lastFile = file;
    decodeImage(file, size.value)
      .then((img) => setImage(img, file.name))
      .catch((e) =>
        fail(new Error(`${file.name}: not an image this browser can decode (${(e as Error).message})`)),
      );
  };
  imageInput.addEventListener('change', () => {
    const f = imageInput.files?.[0];
    if (f) useFile(f);
    imageInput.value = '';
  });
  imageZone.addEventListener('dragover', (e) => {
    e.preventDefault();
    imageZone.classList.add('over');
  });
  imageZone.addEventListener('dragleave', () => imageZone.classList.remove('over'));
  imageZone.addEventListener('drop', (e) => {
    e.preventDefault();
    imageZone.classList.remove('over');
    const f = e.dataTransfer?.files?.[0];
    if (f) useFile(f);
  });
  size.addEventListener('change', () => {
    if (lastFile) useFile(lastFile);
  });
  synthetic.addEventListener('click', () => {
    lastFile = null;
    const img = syntheticImage();
    void setImage(
      { width: img.width, height: img.height, data: img.data as Uint8ClampedArray },
      'synthetic test image',
    ).catch(fail);
  });
  eps.addEventListener('input', () => {
    epsOut.textContent = `ε = ${eps.value}/255`;
    void runAll();
  });
  for (const c of [norm, bgr, kindSel, seed]) c.addEventListener('change', () => void runAll());
  view.addEventListener('change', renderAll);
  scale.addEventListener('change', renderAll);

  const dropSecond = () => {
    slots[1] = null;
    cols.querySelector('#probe-slot-1')?.remove();
    renderAll();
  };
  second.addEventListener('change', async () => {
    const v = second.value;
    if (!v) {
      dropSecond();
      return;
    }
    const id = Number(v);
    const name = second.selectedOptions[0].textContent ?? v;
    try {
      status.textContent = `Loading the first layer of ${name}…`;
      await setSlot(1, await loadLayer({ kind: 'database', id, name }));
      await runAll();
    } catch (e) {
      fail(e);
    }
  });
  secondFile.addEventListener('change', async () => {
    const files = [...(secondFile.files ?? [])];
    secondFile.value = '';
    if (!files.length) return;
    const main = mainFile(files);
    try {
      status.textContent = `Reading ${main.name}…`;
      second.value = '';
      await setSlot(1, await loadLayer({ kind: 'files', files, main: main.name }));
      await runAll();
    } catch (e) {
      fail(e);
    }
  });

  // database models to compare with (when the server has a database)
  void info()
    .then(async (i) => {
      if (!i.db) return;
      const { models } = await getJson<{ models: ModelSummary[] }>('/api/models');
      for (const m of models)
        if (source.kind !== 'database' || m.id !== source.id)
          second.append(h('option', { value: m.id }, m.name));
    })
    .catch(() => undefined);

  loadLayer(source)
    .then(async (layer) => {
      await setSlot(0, { ...layer, model: ownName });
      const img = syntheticImage();
      await setImage(
        { width: img.width, height: img.height, data: img.data as Uint8ClampedArray },
        'synthetic test image',
      );
    })
    .catch(fail);
  return section;
}
