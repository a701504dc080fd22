/** safetensors reader: fixture, generated files (test/data/torch/make.py) and hostile headers. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { FilterDbError } from '../src/errors.js';
import { detect } from '../src/formats/detect.js';
import { bytesSource, type ModelInput } from '../src/formats/io/source.js';
import { safetensorsReader } from '../src/formats/safetensors.js';
import type { Model } from '../src/model/types.js';
import { openModelInput } from '../src/node/file-source.js';
import { dataPath } from './support/paths.js';

interface Expected {
  name: string;
  shape: number[];
  dtype: string;
  values: number[];
}
const expected: Record<string, Expected[]> = JSON.parse(
  readFileSync(dataPath('torch/expected.json'), 'utf8'),
);

/** Builds a safetensors file from raw header text and data bytes. */
function build(
  headerText: string,
  data: Uint8Array = new Uint8Array(0),
  declaredLength?: bigint,
): Uint8Array {
  const header = new TextEncoder().encode(headerText);
  const out = new Uint8Array(8 + header.length + data.length);
  new DataView(out.buffer).setBigUint64(0, declaredLength ?? BigInt(header.length), true);
  out.set(header, 8);
  out.set(data, 8 + header.length);
  return out;
}

function input(bytes: Uint8Array, name = 'x.safetensors'): ModelInput {
  return { main: bytesSource(name, bytes), sibling: async () => null };
}

async function readAndLoad(inp: ModelInput): Promise<Model> {
  const model = await safetensorsReader.read(inp);
  for (const layer of model.layers) await layer.loadWeight();
  return model;
}

async function rejectsWith(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (e) => {
    assert.ok(e instanceof FilterDbError, `expected a FilterDbError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    return true;
  });
}

async function checkAgainstExpected(model: Model, file: string): Promise<void> {
  const want = expected[file];
  assert.deepEqual(
    model.layers.map((l) => [l.name, l.shape, l.dtype, l.groups, l.kind]),
    want.map((e) => [e.name, e.shape, e.dtype, null, null]),
  );
  for (const [i, layer] of model.layers.entries()) {
    assert.deepEqual(Array.from(await layer.loadWeight()), want[i].values, `${file} ${layer.name}`);
  }
}

describe('safetensors: fixture digits_cnn.safetensors', () => {
  it('has the layers of the quality answer, in data order, __metadata__ ignored', async () => {
    const quality = JSON.parse(readFileSync(dataPath('digits_cnn.safetensors.quality.json'), 'utf8'));
    const inp = await openModelInput(dataPath('digits_cnn.safetensors'));
    assert.equal((await detect(inp)).id, 'safetensors');
    const model = await safetensorsReader.read(inp);
    assert.equal(model.format, 'safetensors');
    assert.deepEqual(
      model.layers.map((l) => [l.name, l.shape]),
      quality.layers.map((l: { name: string; shape: number[] }) => [l.name, l.shape]),
    );
    assert.deepEqual(
      model.layers.map((l) => l.convDepth),
      [0, 1, 2, 3, 4, 5],
    );
    assert.deepEqual(model.warnings, []);
  });
});

describe('safetensors: generated files', () => {
  it('dtypes.safetensors: F16/BF16/F64/F32 in ascending data_offsets order, I64 ignored', async () => {
    const model = await safetensorsReader.read(await openModelInput(dataPath('torch/dtypes.safetensors')));
    await checkAgainstExpected(model, 'dtypes.safetensors');
  });

  it('sharded model.safetensors.index.json', async () => {
    const inp = await openModelInput(dataPath('torch/sharded/model.safetensors.index.json'));
    assert.equal((await detect(inp)).id, 'safetensors');
    await checkAgainstExpected(await safetensorsReader.read(inp), 'sharded/model.safetensors.index.json');
  });

  it('a shard missing from the index is a missing-file error', async () => {
    const index = new TextEncoder().encode('{"weight_map":{"a":"model-00001-of-00009.safetensors"}}');
    await rejectsWith(safetensorsReader.read(input(index, 'model.safetensors.index.json')), 'missing-file');
  });
});

describe('safetensors: hostile input', () => {
  const f32 = (n: number) => new Uint8Array(new Float32Array(n).fill(0.25).buffer);

  it('a header length beyond the file is truncated, beyond 100 MB too-large', async () => {
    await rejectsWith(safetensorsReader.read(input(build('{}', new Uint8Array(0), 1000n))), 'truncated');
    await rejectsWith(safetensorsReader.read(input(build('{}', new Uint8Array(0), 2n ** 60n))), 'too-large');
    await rejectsWith(safetensorsReader.read(input(new Uint8Array(5))), 'truncated');
  });

  it('overlapping data_offsets are corrupt', async () => {
    const header =
      '{"a":{"dtype":"F32","shape":[1,1,2,2],"data_offsets":[0,16]},"b":{"dtype":"F32","shape":[1,1,2,2],"data_offsets":[8,24]}}';
    await rejectsWith(safetensorsReader.read(input(build(header, f32(6)))), 'corrupt');
  });

  it('a length that does not match the shape is corrupt; offsets past the data are truncated', async () => {
    const wrong = '{"a":{"dtype":"F32","shape":[1,1,3,3],"data_offsets":[0,16]}}';
    await rejectsWith(safetensorsReader.read(input(build(wrong, f32(4)))), 'corrupt');
    const past = '{"a":{"dtype":"F32","shape":[1,1,2,2],"data_offsets":[0,16]}}';
    await rejectsWith(safetensorsReader.read(input(build(past, f32(2)))), 'truncated');
    const negative = '{"a":{"dtype":"F32","shape":[1,-1,2,2],"data_offsets":[0,16]}}';
    await rejectsWith(safetensorsReader.read(input(build(negative, f32(4)))), 'corrupt');
    await rejectsWith(safetensorsReader.read(input(build('{"a": [1, 2', f32(4)))), 'corrupt');
    await rejectsWith(safetensorsReader.read(input(build('[1, 2]', f32(4)))), 'corrupt');
  });

  it('a __proto__ key is just a tensor name', async () => {
    const header =
      '{"__proto__":{"dtype":"F32","shape":[1,1,2,2],"data_offsets":[0,16],"polluted":true},"__metadata__":{"__proto__":{"polluted":"yes"}}}';
    const model = await readAndLoad(input(build(header, f32(4))));
    assert.deepEqual(
      model.layers.map((l) => l.name),
      ['__proto__'],
    );
    assert.deepEqual(Array.from(await model.layers[0].loadWeight()), [0.25, 0.25, 0.25, 0.25]);
    // biome-ignore lint/suspicious/noExplicitAny: probing for prototype pollution
    assert.equal(({} as any).polluted, undefined);
  });

  // no wall-clock bound (it fails on a loaded machine): a hang hits the test's timeout instead
  it('truncated files fail with a FilterDbError at every cut point', { timeout: 120_000 }, async () => {
    for (const file of ['digits_cnn.safetensors', 'torch/dtypes.safetensors']) {
      const bytes = readFileSync(dataPath(file));
      const cuts = new Set<number>([0, 1, 7, 8, 9, bytes.length - 1]);
      for (let i = 1; i < 100; i++) cuts.add(Math.floor((bytes.length * i) / 100));
      for (const cut of cuts) {
        await assert.rejects(
          readAndLoad(input(bytes.subarray(0, cut))),
          (e) => e instanceof FilterDbError,
          `${file} cut at ${cut}`,
        );
      }
    }
  });

  it('sniffs by header structure, then by extension', () => {
    const sniff = (name: string, bytes: Uint8Array) =>
      safetensorsReader.sniff({ head: bytes.subarray(0, 4096), name, source: bytesSource(name, bytes) });
    assert.equal(sniff('weights', build('{}')), 2);
    assert.equal(sniff('weights', build('{}', new Uint8Array(0), 99n)), 0);
    assert.equal(sniff('w.safetensors', new Uint8Array(3)), 1);
    assert.equal(sniff('model.safetensors.index.json', new TextEncoder().encode('{"weight_map":{}}')), 2);
  });
});
