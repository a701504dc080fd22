/** PyTorch reader, zip reader and pickle VM: fixtures, generated files (test/data/torch/make.py), hostile input. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { FilterDbError } from '../src/errors.js';
import { detect } from '../src/formats/detect.js';
import {
  basicGlobals,
  PickleGlobal,
  type PickleHandler,
  PickleStub,
  unpickle,
} from '../src/formats/io/pickle.js';
import { bytesSource, type ModelInput } from '../src/formats/io/source.js';
import { ZipArchive } from '../src/formats/io/zip.js';
import { pytorchReader } from '../src/formats/pytorch.js';
import { safetensorsReader } from '../src/formats/safetensors.js';
import type { Model } from '../src/model/types.js';
import { openModelInput } from '../src/node/file-source.js';
import { rejectsWith } from './support/errors.js';
import { peakArrayBufferGrowth } from './support/memory.js';
import { dataPath } from './support/paths.js';

interface Expected {
  name: string;
  shape: number[];
  dtype: string;
  values: number[];
  op?: string;
  groups?: number;
  kind?: string;
}
const expected: Record<string, Expected[]> = JSON.parse(
  readFileSync(dataPath('torch/expected.json'), 'utf8'),
);

async function readPath(rel: string): Promise<Model> {
  return pytorchReader.read(await openModelInput(dataPath(rel)));
}

function memoryInput(name: string, bytes: Uint8Array): ModelInput {
  return { main: bytesSource(name, bytes), sibling: async () => null };
}

/** Reads a model and loads every weight, so lazy errors surface too. */
async function readAndLoad(input: ModelInput): Promise<Model> {
  const model = await pytorchReader.read(input);
  for (const layer of model.layers) await layer.loadWeight();
  return model;
}

async function checkAgainstExpected(model: Model, file: string): Promise<void> {
  const want = expected[file];
  assert.deepEqual(
    model.layers.map((l) => [l.name, l.shape, l.dtype]),
    want.map((e) => [e.name, e.shape, e.dtype]),
  );
  for (const [i, layer] of model.layers.entries()) {
    const w = await layer.loadWeight();
    assert.deepEqual(Array.from(w), want[i].values, `${file} ${layer.name}`);
    if (want[i].op) {
      assert.equal(layer.op, want[i].op);
      assert.equal(layer.groups, want[i].groups);
      assert.equal(layer.kind, want[i].kind);
    } else {
      assert.equal(layer.groups, null);
      assert.equal(layer.kind, null);
    }
  }
}

describe('pytorch: fixture digits_cnn.pt', () => {
  it('has the layers of the quality answer, in order, with storage-order depths', async () => {
    const quality = JSON.parse(readFileSync(dataPath('digits_cnn.pt.quality.json'), 'utf8'));
    const model = await readPath('digits_cnn.pt');
    assert.equal(model.format, 'pytorch');
    assert.equal(model.graphDepthKnown, false);
    assert.deepEqual(
      model.layers.map((l) => [l.name, l.shape]),
      quality.layers.map((l: { name: string; shape: number[] }) => [l.name, l.shape]),
    );
    assert.deepEqual(
      model.layers.map((l) => [l.convDepth, l.convDepthNorm, l.groups, l.kind, l.dtype, l.graphDepth]),
      [0, 1, 2, 3, 4, 5].map((d) => [d, d / 5, null, null, 'float32', null]),
    );
  });

  it('is detected as pytorch, and its weights equal the safetensors file bit for bit', async () => {
    const ptInput = await openModelInput(dataPath('digits_cnn.pt'));
    const stInput = await openModelInput(dataPath('digits_cnn.safetensors'));
    assert.equal((await detect(ptInput)).id, 'pytorch');
    const pt = await pytorchReader.read(ptInput);
    const st = await safetensorsReader.read(stInput);
    assert.equal(pt.layers.length, st.layers.length);
    for (const [i, layer] of pt.layers.entries()) {
      const a = await layer.loadWeight();
      const b = await st.layers[i].loadWeight();
      assert.equal(layer.name, st.layers[i].name);
      assert.ok(a instanceof Float32Array && b instanceof Float32Array);
      assert.deepEqual(
        new Uint8Array(a.buffer, a.byteOffset, a.byteLength),
        new Uint8Array(b.buffer, b.byteOffset, b.byteLength),
      );
    }
  });
});

describe('pytorch: generated files (values written by make.py)', () => {
  for (const file of [
    'legacy.pt',
    'dtypes.pt',
    'views.pt',
    'bigendian.pt',
    'module.pt',
    'module_checkpoint.pt',
    'nested_legacy.pt',
    'zip64.pt',
    'deflated.pt',
  ]) {
    it(file, async () => checkAgainstExpected(await readPath(`torch/${file}`), file));
  }

  it('checkpoint.pt: only state_dict counts, optimizer moments are ignored', async () => {
    const model = await readPath('torch/checkpoint.pt');
    await checkAgainstExpected(model, 'checkpoint.pt');
    assert.ok(model.warnings.some((w) => w.includes("'state_dict'")));
  });

  it('dtypes.pt: 1-D and 3-D conv weights are kept, depths count only 2-D convs', async () => {
    const model = await readPath('torch/dtypes.pt');
    assert.deepEqual(
      model.layers.map((l) => [l.name, l.convDepth]),
      [
        ['half.weight', 0],
        ['bf16.weight', 1],
        ['double.weight', 2],
        ['conv1d.weight', 2],
        ['conv3d.weight', 2],
      ],
    );
    assert.equal(model.layers[2].convDepthNorm, 1);
  });

  it('sharded pytorch_model.bin.index.json (zip + legacy shards)', async () => {
    const input = await openModelInput(dataPath('torch/sharded/pytorch_model.bin.index.json'));
    assert.equal((await detect(input)).id, 'pytorch');
    await checkAgainstExpected(await pytorchReader.read(input), 'sharded/pytorch_model.bin.index.json');
  });

  it('a shard missing from the index is a missing-file error', async () => {
    await rejectsWith(readPath('torch/sharded/missing.bin.index.json'), 'missing-file');
  });
});

describe('pytorch: hostile input', () => {
  for (const [file, global] of [
    ['hostile_os_system.pt', 'os.system'],
    ['hostile_eval.pt', 'builtins.eval'],
    ['hostile_popen.pt', 'subprocess.Popen'],
  ]) {
    it(`${file}: refuses ${global} without running anything`, async () => {
      const err = await rejectsWith(readPath(`torch/${file}`), 'unsafe');
      assert.match(err.message, new RegExp(global.replace('.', '\\.')));
    });
  }

  it('an unknown global is stubbed, and a pickle without tensors is a clear error', async () => {
    const err = await rejectsWith(readPath('torch/hostile_unknown.pt'), 'unsupported');
    assert.match(err.message, /no tensors/);
  });

  it('__proto__ / constructor keys do not pollute prototypes', async () => {
    const model = await readPath('torch/proto_keys.pt');
    await checkAgainstExpected(model, 'proto_keys.pt');
    // biome-ignore lint/suspicious/noExplicitAny: probing for prototype pollution
    assert.equal(({} as any).polluted, undefined);
    // biome-ignore lint/suspicious/noExplicitAny: probing for prototype pollution
    assert.equal((Object.prototype as any).polluted, undefined);
    assert.equal(Object.getPrototypeOf({}), Object.prototype);
  });

  it('a tensor needing more bytes than its storage holds is corrupt', async () => {
    await rejectsWith(readPath('torch/overclaim.pt'), 'corrupt');
    await rejectsWith(readPath('torch/short_storage.pt'), 'corrupt');
  });

  it('a zip entry declaring 4 GB uncompressed is refused without allocating it', async () => {
    const zip = await ZipArchive.open(bytesSource('bomb.pt', readFileSync(dataPath('torch/bomb.pt'))));
    const entry = zip.entries.get('bomb/data.pkl')!;
    assert.equal(entry.uncompressedSize, 0xfffffff0);
    // measured in memory left allocated, not in wall-clock time (which fails on a loaded machine)
    const grown = await peakArrayBufferGrowth(async () => {
      await rejectsWith(readPath('torch/bomb.pt'), 'too-large');
      await rejectsWith(zip.open(entry), 'too-large');
    });
    assert.ok(grown < 64 << 20, `${grown} bytes of ArrayBuffers allocated`);
  });

  it('truncated files fail with a FilterDbError at every cut point', { timeout: 120_000 }, async () => {
    for (const file of [
      'digits_cnn.pt',
      'torch/legacy.pt',
      'torch/checkpoint.pt',
      'torch/module.pt',
      'torch/views.pt',
      'torch/deflated.pt',
    ]) {
      const bytes = readFileSync(dataPath(file));
      const cuts = new Set<number>([
        0,
        1,
        2,
        10,
        30,
        64,
        bytes.length - 1,
        bytes.length - 22,
        bytes.length - 23,
      ]);
      for (let i = 1; i < 80; i++) cuts.add(Math.floor((bytes.length * i) / 80));
      for (const cut of cuts) {
        await assert.rejects(
          readAndLoad(memoryInput(file, bytes.subarray(0, cut))),
          (e) => e instanceof FilterDbError,
          `${file} cut at ${cut}`,
        );
      }
    }
  });

  it('corrupted bytes (every byte of the pickles flipped) give FilterDbErrors or a valid read', async () => {
    for (const file of ['torch/legacy.pt', 'torch/module.pt', 'torch/deflated.pt']) {
      const original = readFileSync(dataPath(file));
      const span = Math.min(original.length, 1200);
      for (let i = 0; i < span; i++) {
        const bytes = Uint8Array.from(original);
        bytes[i] ^= 0x5a;
        try {
          await readAndLoad(memoryInput(file, bytes));
        } catch (e) {
          assert.ok(e instanceof FilterDbError, `${file} byte ${i}: ${String(e)}`);
        }
      }
    }
  });
});

describe('pytorch: sniffing', () => {
  const sniff = (name: string, bytes: Uint8Array) =>
    pytorchReader.sniff({ head: bytes.subarray(0, 4096), name, source: bytesSource(name, bytes) });

  it('claims zips with data.pkl and legacy pickles by content, other .pt files by extension', async () => {
    assert.equal(await sniff('x.data', readFileSync(dataPath('digits_cnn.pt'))), 2);
    assert.equal(await sniff('x.data', readFileSync(dataPath('torch/legacy.pt'))), 2);
    assert.equal(await sniff('weights.pth', new Uint8Array([1, 2, 3])), 1);
    assert.equal(
      await sniff('pytorch_model.bin.index.json', new TextEncoder().encode('{"weight_map":{}}')),
      2,
    );
    assert.equal(await sniff('model.onnx', new Uint8Array([8, 7])), 0);
  });

  it('does not claim a zip without data.pkl (e.g. a Keras 3 .keras file)', async () => {
    // A tiny stored zip with one entry "config.json".
    const name = new TextEncoder().encode('config.json');
    const data = new TextEncoder().encode('{}');
    const local = new Uint8Array(30 + name.length + data.length);
    const lv = new DataView(local.buffer);
    lv.setUint32(0, 0x04034b50, true);
    lv.setUint32(18, data.length, true);
    lv.setUint32(22, data.length, true);
    lv.setUint16(26, name.length, true);
    local.set(name, 30);
    local.set(data, 30 + name.length);
    const central = new Uint8Array(46 + name.length);
    const cv = new DataView(central.buffer);
    cv.setUint32(0, 0x02014b50, true);
    cv.setUint32(20, data.length, true);
    cv.setUint32(24, data.length, true);
    cv.setUint16(28, name.length, true);
    central.set(name, 46);
    const end = new Uint8Array(22);
    const ev = new DataView(end.buffer);
    ev.setUint32(0, 0x06054b50, true);
    ev.setUint16(8, 1, true);
    ev.setUint16(10, 1, true);
    ev.setUint32(12, central.length, true);
    ev.setUint32(16, local.length, true);
    const zip = new Uint8Array([...local, ...central, ...end]);
    assert.equal(await sniff('model.keras', zip), 0);
    assert.equal(await sniff('model.pt', zip), 0);
    const archive = await ZipArchive.open(bytesSource('model.keras', zip));
    assert.deepEqual([...archive.entries.keys()], ['config.json']);
    assert.equal(
      new TextDecoder().decode(await archive.readEntry(archive.entries.get('config.json')!)),
      '{}',
    );
  });
});

describe('pickle VM', () => {
  const pickles: Record<string, string> = JSON.parse(readFileSync(dataPath('torch/pickles.json'), 'utf8'));
  const decode = (key: string) => new Uint8Array(Buffer.from(pickles[key], 'base64'));

  for (let protocol = 0; protocol <= 5; protocol++) {
    it(`decodes Python's protocol ${protocol} pickles`, () => {
      const { value } = unpickle(decode(`protocol${protocol}`), { name: 'p' });
      assert.ok(value instanceof Map);
      const v = value as Map<string, unknown>;
      assert.deepEqual(v.get('int'), [
        0,
        1,
        -1,
        255,
        256,
        65535,
        65536,
        -(2 ** 31),
        2 ** 31,
        2n ** 53n,
        2n ** 70n,
        -(2n ** 70n),
      ]);
      assert.deepEqual(v.get('float'), [0.5, -1e300, Number.POSITIVE_INFINITY]);
      assert.deepEqual(v.get('str'), ['', 'abc', 'h\u00e9\u20ac\u{1F600}', 'a\nb\\c']);
      const bytes = (v.get('bytes') as Uint8Array[]).map((b) => Array.from(b));
      assert.deepEqual(bytes, [[], [0, 255, 97, 98]]);
      assert.equal(v.get('none'), null);
      assert.deepEqual(v.get('bool'), [true, false]);
      assert.deepEqual(v.get('tuple'), [[], [1], [1, 2], [1, 2, 3], [1, 2, 3, 4]]);
      assert.deepEqual(v.get('set'), new Set([1, 2]));
      assert.deepEqual(v.get('frozenset'), new Set([3]));
      assert.deepEqual(Array.from(v.get('bytearray') as Uint8Array), [120, 121]);
      assert.deepEqual(v.get('nested'), new Map([['k', [new Map([['x', 1]])]]]));
      assert.deepEqual(v.get('__proto__'), new Map([['polluted', true]]));
      const shared = v.get('shared') as unknown[][];
      assert.equal(shared[0], shared[1], 'memo keeps identity');
      // biome-ignore lint/suspicious/noExplicitAny: probing for prototype pollution
      assert.equal(({} as any).polluted, undefined);
    });
  }

  it('lets a caller add numpy handlers through the allow-list (as for pandas pickles)', () => {
    const { value: objects } = unpickle(decode('numpy_object'), { name: 'np', globals: numpyGlobals() });
    assert.deepEqual(objects, { shape: [2, 2], dtype: 'O8', data: ['a', 'bb', 'ccc', '0:8'] });
    const { value: floats } = unpickle(decode('numpy_float'), { name: 'np', globals: numpyGlobals() });
    const f = floats as { shape: number[]; data: Uint8Array };
    assert.deepEqual(f.shape, [2, 3]);
    assert.deepEqual(Array.from(new Float64Array(f.data.slice().buffer)), [0, 1, 2, 3, 4, 5]);
    // Protocol 2 numpy pickles carry bytes as _codecs.encode(latin-1 text), handled by basicGlobals.
    const { value: p2 } = unpickle(decode('numpy_float_p2'), { name: 'np', globals: numpyGlobals() });
    assert.deepEqual(
      Array.from(new Float32Array((p2 as { data: Uint8Array }).data.slice().buffer)),
      [0, 1, 2, 3],
    );
  });

  it('turns unknown globals into inert stubs that record args and state', () => {
    // cmymod\nThing\n (K1 K2 t R } X 'a' K3 s b .
    const bytes = Uint8Array.from([
      0x80,
      0x02,
      ...ascii('cmymod\nThing\n'),
      0x28,
      0x4b,
      1,
      0x4b,
      2,
      0x74,
      0x52,
      0x7d,
      0x58,
      1,
      0,
      0,
      0,
      0x61,
      0x4b,
      3,
      0x73,
      0x62,
      0x2e,
    ]);
    const { value } = unpickle(bytes, { name: 'stub' });
    assert.ok(value instanceof PickleStub);
    assert.equal(value.className, 'mymod.Thing');
    assert.deepEqual(value.args, [1, 2]);
    assert.deepEqual(value.state, new Map([['a', 3]]));
  });

  it('rejects malformed pickles with FilterDbErrors', () => {
    const cases: [number[], string][] = [
      [[0x80, 0x02, 0x68, 0x05, 0x2e], 'corrupt'], // BINGET of an undefined memo slot
      [[0x80, 0x02, 0x30, 0x2e], 'corrupt'], // POP on an empty stack
      [[0x80, 0x02, 0x74, 0x2e], 'corrupt'], // TUPLE without MARK
      [[0x80, 0x02, 0x4e, 0x51, 0x2e], 'unsupported'], // BINPERSID without a loader
      [[0x80, 0x02, 0x58, 0xff, 0xff, 0xff, 0x7f], 'truncated'], // string longer than the data
      [[0x80, 0x02, 0x8b, 0, 0, 0, 0x10], 'too-large'], // LONG4 of 256 MB
      [[0x80, 0x02, 0xff, 0x2e], 'corrupt'], // unknown opcode
      [[0x80, 0x02, 0x82, 0x01, 0x2e], 'unsupported'], // EXT1
      [[0x80, 0x02, 0x4e], 'truncated'], // no STOP
      [[0x80, 0x09, 0x4e, 0x2e], 'unsupported'], // protocol 9
      [[0x80, 0x02, 0x4b, 0x01, 0x4b, 0x02, 0x73, 0x2e], 'corrupt'], // SETITEM on a non-dict
    ];
    for (const [bytes, code] of cases) {
      assert.throws(
        () => unpickle(Uint8Array.from(bytes), { name: 'bad' }),
        (e) => e instanceof FilterDbError && e.code === code,
        `${bytes.map((b) => b.toString(16)).join(' ')} → ${code}`,
      );
    }
  });

  it('enforces its memo and stack limits', () => {
    const manyNones = Uint8Array.from([0x80, 0x02, ...new Array(100).fill(0x4e), 0x2e]);
    assert.throws(
      () => unpickle(manyNones, { name: 'deep', maxStack: 50 }),
      (e) => e instanceof FilterDbError && e.code === 'too-large',
    );
    const memo = Uint8Array.from([0x80, 0x04, 0x4e, ...new Array(20).fill(0x94), 0x2e]);
    assert.throws(
      () => unpickle(memo, { name: 'memo', maxMemo: 10 }),
      (e) => e instanceof FilterDbError && e.code === 'too-large',
    );
  });

  it('survives deeply nested and self-referencing structures', async () => {
    // 100 000 nested lists: [[[[...]]]] built with EMPTY_LIST … APPEND.
    const depth = 100_000;
    const bytes = new Uint8Array(2 + depth * 2 + 1);
    bytes.set([0x80, 0x02]);
    for (let i = 0; i < depth; i++) bytes[2 + i] = 0x5d;
    for (let i = 0; i < depth - 1; i++) bytes[2 + depth + i] = 0x61;
    bytes[2 + 2 * depth - 1] = 0x2e;
    const { value } = unpickle(bytes.subarray(0, 2 + 2 * depth), { name: 'deep' });
    assert.ok(Array.isArray(value));
  });
});

function ascii(s: string): number[] {
  return [...s].map((c) => c.charCodeAt(0));
}

/** What the pandas/dataset.h5 engineer would register: numpy arrays as {shape, dtype, data}. */
function numpyGlobals(): Map<string, PickleHandler> {
  interface NdArray {
    shape: number[];
    dtype: string;
    data: unknown;
  }
  const globals = new Map(basicGlobals);
  const reconstruct: PickleHandler = {
    call: (): NdArray => ({ shape: [], dtype: '', data: null }),
    build: (obj, state) => {
      const [, shape, dtype, , data] = state as [number, number[], { name: string }, boolean, unknown];
      Object.assign(obj as NdArray, { shape, dtype: dtype.name, data });
      return obj;
    },
  };
  const dtype: PickleHandler = { call: (args) => ({ name: String(args[0]) }), build: (obj) => obj };
  // Protocol 5 pickles of plain arrays: numeric._frombuffer(buffer, dtype, shape, order).
  const frombuffer: PickleHandler = {
    call: ([data, dt, shape]): NdArray => ({
      shape: shape as number[],
      dtype: (dt as { name: string }).name,
      data,
    }),
  };
  for (const mod of ['numpy.core.numeric', 'numpy._core.numeric'])
    globals.set(`${mod}._frombuffer`, frombuffer);
  for (const mod of ['numpy.core.multiarray', 'numpy._core.multiarray'])
    globals.set(`${mod}._reconstruct`, reconstruct);
  globals.set('numpy.dtype', dtype);
  assert.ok(new PickleGlobal('numpy', 'dtype').fullName === 'numpy.dtype');
  return globals;
}
