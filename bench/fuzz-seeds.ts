/**
 * Writes the small generated seed files of the fuzz harness (bench/fuzz.ts) to test/data/fuzz-seeds/:
 * a Keras 2 full-model .h5 (written with h5wasm as h5py lays it out: fixed-length string attributes, a
 * Conv2D and a DepthwiseConv2D) and a TFLite model (CONV_2D + DEPTHWISE_CONV_2D, float32). The other formats
 * are fuzzed from the real files in test/data and npm packages. Run once after changing it:
 *
 *   npm run build && node dist/bench/fuzz-seeds.js
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import h5wasm from 'h5wasm';
import { Builtin, f32Bytes, OptionsType, TensorType, writeTflite } from '../test/support/tflite-writer.js';

const out = fileURLToPath(new URL('../../test/data/fuzz-seeds/', import.meta.url));

function values(n: number, seed: number): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => Math.sin(seed * 7.1 + i * 1.37) * 0.3);
}

async function kerasSeed(): Promise<Uint8Array> {
  const { FS } = await h5wasm.ready;
  const path = '/fuzz-seed.h5';
  const f = new h5wasm.File(path, 'w');
  const fixed = (
    obj: { create_attribute: (...a: never[]) => unknown },
    name: string,
    v: string | string[],
  ) => {
    const list = Array.isArray(v) ? v : [v];
    const width = Math.max(1, ...list.map((s) => s.length));
    (obj.create_attribute as (...a: unknown[]) => unknown)(
      name,
      v,
      Array.isArray(v) ? [list.length] : [],
      `S${width}`,
    );
  };
  const conv = { padding: 'same', strides: [1, 1], dilation_rate: [1, 1], use_bias: false };
  const config = {
    class_name: 'Sequential',
    config: {
      name: 'seed',
      layers: [
        { class_name: 'InputLayer', config: { name: 'input_1', batch_input_shape: [null, 8, 8, 3] } },
        {
          class_name: 'Conv2D',
          config: { name: 'conv2d', filters: 4, kernel_size: [3, 3], groups: 1, ...conv },
        },
        {
          class_name: 'DepthwiseConv2D',
          config: { name: 'dw', kernel_size: [3, 3], depth_multiplier: 2, ...conv },
        },
      ],
    },
  };
  fixed(f, 'keras_version', '2.13.1');
  fixed(f, 'backend', 'tensorflow');
  fixed(f, 'model_config', JSON.stringify(config));
  const mw = f.create_group('model_weights');
  fixed(mw, 'layer_names', ['input_1', 'conv2d', 'dw']);
  const weights: Record<string, [string, number[], Float32Array][]> = {
    input_1: [],
    conv2d: [['kernel:0', [3, 3, 3, 4], values(108, 1)]],
    dw: [['depthwise_kernel:0', [3, 3, 4, 2], values(72, 2)]],
  };
  for (const [layer, list] of Object.entries(weights)) {
    const g = mw.create_group(layer);
    if (list.length === 0) g.create_attribute('weight_names', new Float64Array(0), [0], '<d');
    else
      fixed(
        g,
        'weight_names',
        list.map(([n]) => `${layer}/${n}`),
      );
    if (list.length) {
      const inner = g.create_group(layer);
      for (const [n, shape, data] of list) inner.create_dataset({ name: n, data, shape, dtype: '<f' });
    }
  }
  f.close();
  const bytes = FS!.readFile(path);
  FS!.unlink(path);
  return bytes;
}

function tfliteSeed(): Uint8Array {
  const conv = { type: OptionsType.Conv2DOptions, padding: 0, ints: { 1: 1, 2: 1 } };
  return writeTflite({
    tensors: [
      { name: 'input', shape: [1, 8, 8, 3], type: TensorType.FLOAT32 },
      { name: 'conv/weight', shape: [4, 3, 3, 3], type: TensorType.FLOAT32, data: f32Bytes(values(108, 3)) },
      { name: 'conv/out', shape: [1, 8, 8, 4], type: TensorType.FLOAT32 },
      { name: 'dw/weight', shape: [1, 3, 3, 8], type: TensorType.FLOAT32, data: f32Bytes(values(72, 4)) },
      { name: 'dw/out', shape: [1, 8, 8, 8], type: TensorType.FLOAT32 },
    ],
    ops: [
      { code: Builtin.CONV_2D, inputs: [0, 1, -1], outputs: [2], options: conv },
      {
        code: Builtin.DEPTHWISE_CONV_2D,
        inputs: [2, 3, -1],
        outputs: [4],
        options: { type: OptionsType.DepthwiseConv2DOptions, padding: 0, ints: { 1: 1, 2: 1, 3: 2 } },
      },
    ],
    inputs: [0],
    outputs: [4],
  }).bytes;
}

writeFileSync(`${out}keras2.h5`, await kerasSeed());
writeFileSync(`${out}model.tflite`, tfliteSeed());
console.log(`wrote ${out}keras2.h5 and ${out}model.tflite`);
