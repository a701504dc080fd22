/**
 * The first-layer probe's worker: holds the image and up to two layers, runs the convolutions of
 * src/analysis/first-layer-conv.ts off the page's thread, and reads the first layer of dropped model files
 * with the same readers as the CLI.
 */
import {
  amplification,
  type ConvSpec,
  conv2d,
  firstLayerInfo,
  inputDelta,
  MAX_PROBE_WEIGHTS,
  normalise,
  perturb,
  pixelsOf,
  type Tensor3,
} from '../../src/analysis/first-layer-conv.js';
import { readModel } from '../../src/formats/detect.js';
import { elementCount } from '../../src/model/types.js';
import { droppedModelInput } from './file-source.js';
import type { FirstLayer, FromProbe, ProbeImage, ToProbe } from './probe-protocol.js';

interface WorkerScope {
  postMessage(message: FromProbe, transfer?: Transferable[]): void;
  onmessage: ((event: MessageEvent<ToProbe>) => void) | null;
}
const scope = self as unknown as WorkerScope;

interface Slot {
  weights: Float32Array;
  spec: ConvSpec;
  /** The clean output of the current image and normalisation, and what it was computed for. */
  clean: Tensor3 | null;
  cleanKey: string;
}
const slots = new Map<number, Slot>();
let image: ProbeImage | null = null;
let imageVersion = 0;

async function readFirstLayer(files: File[], mainName: string): Promise<FirstLayer> {
  const model = await readModel(droppedModelInput(files, mainName));
  const layer = model.layers[0];
  if (!layer) throw new Error(`${mainName}: no conv layer found`);
  if (elementCount(layer.shape) > MAX_PROBE_WEIGHTS)
    throw new Error(
      `${mainName}: the first layer ${layer.name} has more weights than the probe takes (${MAX_PROBE_WEIGHTS})`,
    );
  const w = await layer.loadWeight();
  return {
    ...firstLayerInfo(layer, model.format),
    model: mainName,
    weights: w instanceof Float32Array ? w : Float32Array.from(w),
  };
}

function run(msg: Extract<ToProbe, { type: 'run' }>): FromProbe {
  const slot = slots.get(msg.slot);
  if (!slot) throw new Error(`no layer in slot ${msg.slot}`);
  if (!image) throw new Error('no image');
  const channels = slot.spec.shape[1] * slot.spec.groups;
  const pixels = pixelsOf(image, channels, msg.bgr);
  const key = `${imageVersion}|${msg.bgr}|${msg.norm.mean}|${msg.norm.std}`;
  let cleanMs = 0;
  if (!slot.clean || slot.cleanKey !== key) {
    const t0 = performance.now();
    slot.clean = conv2d(normalise(pixels, msg.norm), slot.weights, slot.spec);
    cleanMs = performance.now() - t0;
    slot.cleanKey = key;
  }
  const t1 = performance.now();
  const dIn = inputDelta(pixels, perturb(pixels, msg.perturbation), msg.norm);
  const dOut = conv2d(dIn, slot.weights, slot.spec);
  const amp = amplification(dIn, dOut);
  const deltaMs = performance.now() - t1;
  const clean = slot.clean;
  return {
    type: 'run',
    request: msg.request,
    run: {
      channels: clean.channels,
      height: clean.height,
      width: clean.width,
      clean: clean.data.slice(),
      delta: dOut.data,
      ratios: amp.ratios,
      mean: amp.mean,
      inputNorm: amp.inputNorm,
      ms: { clean: cleanMs, delta: deltaMs },
    },
  };
}

async function handle(msg: ToProbe): Promise<void> {
  if (msg.type === 'read') {
    const layer = await readFirstLayer(msg.files, msg.main);
    scope.postMessage({ type: 'read', request: msg.request, layer });
  } else if (msg.type === 'layer') {
    slots.set(msg.slot, { weights: msg.weights, spec: msg.spec, clean: null, cleanKey: '' });
    scope.postMessage({ type: 'ok', request: msg.request });
  } else if (msg.type === 'image') {
    image = msg.image;
    imageVersion++;
    scope.postMessage({ type: 'ok', request: msg.request });
  } else {
    const answer = run(msg);
    if (answer.type === 'run')
      scope.postMessage(answer, [answer.run.clean.buffer, answer.run.delta.buffer, answer.run.ratios.buffer]);
  }
}

scope.onmessage = (event) => {
  const msg = event.data;
  handle(msg).catch((e) =>
    scope.postMessage({
      type: 'error',
      request: msg.request,
      message: e instanceof Error ? e.message : String(e),
    }),
  );
};
