/**
 * Property-based tests (fast-check) of the invariants a reader of the paper relies on: permuting filters or
 * layers changes nothing, scaling a filter by a positive factor changes none of its coefficients, a group
 * compared with itself is 0, the Chan merge of any split equals the moments of the whole, and every format
 * reader either returns a model or throws a FilterDbError on arbitrary bytes. Runs are seeded (the same cases
 * on every run; set FC_SEED to explore others) and bounded in number and time.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { batchMoments, type Moments, mergeMoments, peakScale } from '../src/analysis/moments.js';
import { flatComponents, pcaFromMoments, projectBatch } from '../src/analysis/pca.js';
import { distributionShift, type FilterBatch, type ShiftResult } from '../src/analysis/shift.js';
import { FilterDbError } from '../src/errors.js';
import { bytesSource } from '../src/formats/io/source.js';
import type { FormatReader } from '../src/formats/reader.js';
import { readers } from '../src/formats/registry.js';
import { measureLayer } from '../src/metrics/quality.js';
import { dataPath } from './support/paths.js';

const seed = process.env.FC_SEED ? Number(process.env.FC_SEED) : 20221;
const params = (numRuns: number) => ({ seed, numRuns, interruptAfterTimeLimit: 20_000 });

/** A 3x3 filter with float32 values (as stored) in [-2, 2], sometimes all zero. */
const filter = fc.oneof(
  {
    weight: 9,
    arbitrary: fc.array(fc.float({ min: -2, max: 2, noNaN: true }), { minLength: 9, maxLength: 9 }),
  },
  { weight: 1, arbitrary: fc.constant(new Array<number>(9).fill(0)) },
);
/** Groups of filters: 2–4 groups, each a few layers of 1–12 filters. */
const zoo = fc.array(
  fc.array(fc.array(filter, { minLength: 1, maxLength: 12 }), { minLength: 1, maxLength: 3 }),
  { minLength: 2, maxLength: 4 },
);

type Zoo = number[][][][];

function batches(z: Zoo): FilterBatch[] {
  return z.flatMap((layers, g) =>
    layers.map((fs) => ({ group: `g${g}`, filters: Float32Array.from(fs.flat()), count: fs.length })),
  );
}

async function shiftOf(bs: FilterBatch[], bins = 16): Promise<ShiftResult> {
  return distributionShift(
    async function* () {
      yield* bs;
    },
    'g',
    { bins },
  );
}

const closeTo = (a: number, b: number, tol: number) => Math.abs(a - b) <= tol * Math.max(1, Math.abs(b));

/** Enough filters in enough directions for a PCA (n ≥ 2 with some spread). */
const usable = (z: Zoo) => z.flat(2).filter((f) => f.some((v) => v !== 0)).length >= 4;

/** Sort keys of a shuffle (see shuffled). */
const shuffleKeys = fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 1 });

/** The rank of every element of xs under a seeded shuffle. */
function shuffled<T>(xs: T[], keys: number[]): T[] {
  return xs
    .map((x, i) => [x, keys[i % keys.length] + i * 1e-9] as const)
    .sort((a, b) => a[1] - b[1])
    .map(([x]) => x);
}

describe('distribution shift properties', () => {
  it('permuting the filters within layers and the order of layers changes no count and no matrix entry beyond 1e-9', async () => {
    await fc.assert(
      fc.asyncProperty(zoo, shuffleKeys, async (z, keys) => {
        fc.pre(usable(z));
        const a = await shiftOf(batches(z));
        const permuted = shuffled(
          z.flatMap((layers, g) => layers.map((fs) => [g, shuffled(fs, keys)] as const)),
          keys,
        ).map(([g, fs]) => ({ group: `g${g}`, filters: Float32Array.from(fs.flat()), count: fs.length }));
        const b = await shiftOf(permuted);
        assert.deepEqual(b.groups, a.groups);
        assert.deepEqual(b.counts, a.counts);
        a.matrix.flat().forEach((v, i) => {
          assert.ok(closeTo(b.matrix.flat()[i], v, 1e-9), `matrix ${i}: ${b.matrix.flat()[i]} vs ${v}`);
        });
      }),
      params(60),
    );
  });

  it('scaling a filter by a positive factor changes none of its coefficients (bit for bit for powers of two)', () => {
    fc.assert(
      fc.property(
        fc.array(filter, { minLength: 3, maxLength: 30 }),
        fc.double({ min: 1e-3, max: 1e3, noNaN: true }),
        fc.integer({ min: -20, max: 20 }),
        (fs, factor, exp) => {
          const raw = Float64Array.from(fs.flat());
          const n = fs.length;
          fc.pre(n >= 2);
          const basis = pcaFromMoments(batchMoments(peakScale(raw, n, 9, new Float64Array(9 * n)), n, 9));
          const coefs = (x: Float64Array) =>
            projectBatch(
              peakScale(x, n, 9, new Float64Array(9 * n)),
              n,
              9,
              Float64Array.from(basis.mean),
              flatComponents(basis),
              new Float64Array(9 * n),
            );
          const base = coefs(raw);
          const scaledBy = (c: number) => coefs(raw.map((v) => v * c));
          assert.deepEqual(scaledBy(2 ** exp), base);
          const other = scaledBy(factor);
          base.forEach((v, i) => {
            assert.ok(Math.abs(other[i] - v) <= 1e-12, `coefficient ${i}: ${other[i]} vs ${v}`);
          });
        },
      ),
      params(200),
    );
  });

  it('scaling whole filters by powers of two leaves the whole shift answer unchanged', async () => {
    await fc.assert(
      fc.asyncProperty(zoo, fc.integer({ min: -30, max: 30 }), async (z, exp) => {
        fc.pre(usable(z));
        const a = await shiftOf(batches(z));
        const b = await shiftOf(
          batches(z.map((layers) => layers.map((fs) => fs.map((f) => f.map((v) => v * 2 ** exp))))),
        );
        assert.deepEqual(b, a);
      }),
      params(40),
    );
  });

  it('a group compared with a copy of itself (filters in any order) is exactly 0', async () => {
    await fc.assert(
      fc.asyncProperty(zoo, shuffleKeys, async (z, keys) => {
        fc.pre(usable(z));
        const filters = z.flat(2);
        const copy = shuffled(filters, keys);
        const r = await shiftOf([
          ...batches(z),
          { group: 'copy', filters: Float32Array.from(copy.flat()), count: copy.length },
          { group: 'zz', filters: Float32Array.from(filters.flat()), count: filters.length },
        ]);
        const a = r.groups.indexOf('copy');
        const b = r.groups.indexOf('zz');
        assert.equal(r.matrix[a][b], 0);
        assert.equal(r.matrix[b][a], 0);
        for (let g = 0; g < r.groups.length; g++) assert.equal(r.matrix[g][g], 0);
      }),
      params(40),
    );
  });

  it('the Chan merge of the moments of any split equals the moments of the whole', () => {
    fc.assert(
      fc.property(
        fc.array(filter, { minLength: 2, maxLength: 60 }),
        fc.array(fc.nat(), { maxLength: 6 }),
        (fs, cuts) => {
          const n = fs.length;
          const x = peakScale(Float32Array.from(fs.flat()), n, 9, new Float64Array(9 * n));
          const whole = batchMoments(x, n, 9);
          const points = [...new Set(cuts.map((c) => c % (n + 1)))].sort((a, b) => a - b);
          const bounds = [0, ...points, n];
          const merged: Moments = batchMoments(new Float64Array(0), 0, 9);
          for (let i = 0; i + 1 < bounds.length; i++) {
            const [a, b] = [bounds[i], bounds[i + 1]];
            mergeMoments(merged, batchMoments(x.subarray(a * 9, b * 9), b - a, 9));
          }
          assert.equal(merged.n, n);
          const scale = Math.max(1, ...whole.scatter.map(Math.abs));
          whole.mean.forEach((v, j) => {
            assert.ok(Math.abs(merged.mean[j] - v) <= 1e-13, `mean ${j}`);
          });
          whole.scatter.forEach((v, j) => {
            assert.ok(
              Math.abs(merged.scatter[j] - v) <= 1e-12 * scale,
              `scatter ${j}: ${merged.scatter[j]} vs ${v}`,
            );
          });
        },
      ),
      params(300),
    );
  });
});

describe('quality metric properties', () => {
  it('permuting output channels, input channels or kernel positions consistently changes no metric beyond 1e-9', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 6 }),
        fc.integer({ min: 1, max: 4 }),
        fc.array(fc.float({ min: -1, max: 1, noNaN: true }), { minLength: 6 * 4 * 9, maxLength: 6 * 4 * 9 }),
        shuffleKeys,
        (out, inp, values, keys) => {
          const w = Float32Array.from(values.slice(0, out * inp * 9));
          const shape = [out, inp, 3, 3];
          const a = measureLayer(w, shape).metrics;
          const po = shuffled([...Array(out).keys()], keys);
          const pi = shuffled([...Array(inp).keys()], keys.slice().reverse());
          const pk = shuffled(
            [...Array(9).keys()],
            keys.map((k) => 1 - k),
          );
          const p = new Float32Array(w.length);
          for (let o = 0; o < out; o++)
            for (let i = 0; i < inp; i++)
              for (let k = 0; k < 9; k++) p[(o * inp + i) * 9 + k] = w[(po[o] * inp + pi[i]) * 9 + pk[k]];
          const b = measureLayer(p, shape).metrics;
          for (const key of Object.keys(a) as (keyof typeof a)[]) {
            const [x, y] = [a[key], b[key]];
            if (x === null || y === null) assert.equal(y, x, key);
            else assert.ok(closeTo(y, x, 1e-9), `${key}: ${y} vs ${x}`);
          }
        },
      ),
      params(200),
    );
  });
});

// ---- readers on arbitrary bytes ------------------------------------------------------------------------------

/** Real files to corrupt (flipped bytes reach deeper into each parser than noise does). */
const SEEDS: Record<string, string> = {
  onnx: 'digits_cnn.onnx',
  pytorch: 'digits_cnn.pt',
  safetensors: 'digits_cnn.safetensors',
  keras: 'dataset.table.h5',
};
/** Magic prefixes, so noise gets past each format's first check. */
const PREFIXES: Uint8Array[] = [
  new Uint8Array(0),
  Uint8Array.from([0x50, 0x4b, 0x03, 0x04]), // zip (PyTorch, .keras)
  Uint8Array.from([0x80, 0x02]), // pickle protocol 2 (legacy PyTorch)
  Uint8Array.from([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]), // HDF5
  Uint8Array.from([0x1c, 0, 0, 0, 0x54, 0x46, 0x4c, 0x33]), // TFLite
  Uint8Array.from([0x40, 0, 0, 0, 0, 0, 0, 0, 0x7b, 0x22]), // safetensors header
  new TextEncoder().encode('{"modelTopology":{},"weightsManifest":[{"paths":["w.bin"],"weights":[]}]}'),
  Uint8Array.from([0x08, 0x07, 0x12, 0x04]), // ONNX ModelProto fields
];

/** Reads with `reader` and loads every layer; anything thrown must be a FilterDbError. */
async function readsOrRefuses(reader: FormatReader, bytes: Uint8Array, name: string): Promise<void> {
  try {
    const model = await reader.read({ main: bytesSource(name, bytes), sibling: async () => null });
    for (const layer of model.layers) await layer.loadWeight();
  } catch (e) {
    if (!(e instanceof FilterDbError))
      throw new Error(`${reader.label} threw ${String(e)} instead of a FilterDbError`);
  }
}

describe('every reader returns a model or throws a FilterDbError on arbitrary bytes', () => {
  for (const reader of readers) {
    const name = `junk${reader.extensions[0] ?? ''}`;
    it(`${reader.label}: noise after a magic prefix`, async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom(...PREFIXES),
          fc.uint8Array({ maxLength: 2048 }),
          async (prefix, noise) => {
            const bytes = new Uint8Array(prefix.length + noise.length);
            bytes.set(prefix);
            bytes.set(noise, prefix.length);
            await readsOrRefuses(reader, bytes, name);
          },
        ),
        params(150),
      );
    });
    const file = Object.entries(SEEDS).find(([k]) => reader.label.toLowerCase().includes(k))?.[1];
    if (file)
      it(`${reader.label}: ${file} with flipped bytes and cut short`, async () => {
        const good = readFileSync(dataPath(file));
        await fc.assert(
          fc.asyncProperty(
            fc.array(fc.tuple(fc.nat({ max: good.length - 1 }), fc.integer({ min: 0, max: 255 })), {
              minLength: 1,
              maxLength: 8,
            }),
            fc.nat({ max: good.length }),
            async (flips, keep) => {
              const bytes = Uint8Array.from(good);
              for (const [at, v] of flips) bytes[at] = v;
              await readsOrRefuses(reader, keep > 0 ? bytes.subarray(0, keep) : bytes, file);
            },
          ),
          params(60),
        );
      });
  }
});
