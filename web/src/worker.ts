/**
 * The analysis worker: reads a dropped model with the same core code as the CLI (formats/, metrics/,
 * analysis/), reports progress, and keeps the model so the page can ask for a layer's weights later.
 */
import { readModel } from '../../src/formats/detect.js';
import type { Model } from '../../src/model/types.js';
import { modelReportData } from '../../src/report/model-report.js';
import { droppedModelInput } from './file-source.js';
import type { FromWorker, ToWorker } from './protocol.js';

interface WorkerScope {
  postMessage(message: FromWorker, transfer?: Transferable[]): void;
  onmessage: ((event: MessageEvent<ToWorker>) => void) | null;
}
const scope = self as unknown as WorkerScope;

let model: Model | null = null;

function post(message: FromWorker, transfer: Transferable[] = []): void {
  scope.postMessage(message, transfer);
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

async function analyse(files: File[], mainName: string): Promise<void> {
  const t0 = performance.now();
  const input = droppedModelInput(files, mainName);
  post({ type: 'progress', phase: 'reading', done: 0, total: 1 });
  model = await readModel(input);
  const t1 = performance.now();
  const data = await modelReportData(model, {
    degeneratedGrids: 0,
    onLayer: (done, total) => post({ type: 'progress', phase: 'measuring', done, total }),
  });
  const t2 = performance.now();
  post({
    type: 'result',
    report: data.quality,
    basis: data.basis
      ? {
          components: data.basis.components,
          explainedVarianceRatio: data.basis.explainedVarianceRatio,
          filters: data.basisFilters,
          layers: data.basisLayers,
        }
      : null,
    basisNote: data.basisNote,
    atlas: data.atlas,
    energy: data.energy,
    timings: { read: t1 - t0, measure: t2 - t1, total: t2 - t0 },
  });
}

async function layerWeights(name: string, request: number): Promise<void> {
  if (!model) throw new Error('no model loaded');
  const conv = model.layers.find((l) => l.name === name);
  if (!conv) throw new Error(`no layer ${name}`);
  const w = await conv.loadWeight();
  const weight = w instanceof Float32Array ? w.slice() : Float32Array.from(w as ArrayLike<number>);
  post({ type: 'layer', request, name, shape: [...conv.shape], weight }, [weight.buffer]);
}

scope.onmessage = (event) => {
  const msg = event.data;
  if (msg.type === 'analyse') {
    model = null;
    analyse(msg.files, msg.main).catch((e) => post({ type: 'error', message: errorText(e) }));
  } else if (msg.type === 'layer') {
    layerWeights(msg.name, msg.request).catch((e) =>
      post({ type: 'error', message: errorText(e), request: msg.request }),
    );
  }
};
