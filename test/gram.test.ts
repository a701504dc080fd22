/**
 * The Gram kernels (WebAssembly SIMD vs scalar JS) agree to float64 rounding noise, and the worker-thread
 * quality pool gives exactly (deep-equal) the single-threaded results.
 */
import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import { after, before, describe, it } from 'node:test';
import { readModel } from '../src/formats/detect.js';
import { qualityReport } from '../src/metrics/layer-report.js';
import { gram, setGramKernel } from '../src/metrics/linalg.js';
import { measureLayer } from '../src/metrics/quality.js';
import { wasmGramAvailable } from '../src/metrics/wasm/gram.js';
import { type ConvLayer, elementCount, type Model } from '../src/model/types.js';
import { openModelInput } from '../src/node/file-source.js';
import { QualityPool, shouldUsePool } from '../src/node/parallel-quality.js';
import { dataPath } from './support/paths.js';
import { mulberry32 as rng } from './support/random.js';

function randomMatrix(rows: number, cols: number, seed: number): Float64Array {
  const rand = rng(seed);
  return Float64Array.from({ length: rows * cols }, () => rand() - 0.5);
}

/**
 * |Δ(i,j)| ≤ rel·√(c_ii·c_jj) (the Cauchy–Schwarz scale of entry (i, j): a relative bound that stays meaningful
 * for off-diagonal entries near 0); zero rows must give exact zeros; both results exactly symmetric.
 */
function assertGramClose(
  actual: Float64Array,
  expected: Float64Array,
  rows: number,
  what: string,
  rel = 1e-12,
) {
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < rows; j++) {
      const e = expected[i * rows + j];
      const a = actual[i * rows + j];
      assert.equal(a, actual[j * rows + i], `${what}: asymmetric at (${i}, ${j})`);
      const scale = Math.sqrt(expected[i * rows + i] * expected[j * rows + j]);
      if (scale === 0) {
        assert.equal(a, 0, `${what}: (${i}, ${j}) of a zero row is ${a}`);
        continue;
      }
      assert.ok(Math.abs(a - e) <= rel * scale, `${what}: (${i}, ${j}) ${a} vs ${e}`);
    }
  }
}

/** Plain dot products, the definition. */
function naiveGram(a: Float64Array, rows: number, cols: number): Float64Array {
  const c = new Float64Array(rows * rows);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < rows; j++) {
      let s = 0;
      for (let d = 0; d < cols; d++) s += a[i * cols + d] * a[j * cols + d];
      c[i * rows + j] = s;
    }
  }
  return c;
}

const ROWS = [1, 2, 3, 5, 17, 64, 130];
const COLS = [1, 3, 9, 10, 4608];

describe('gram: WebAssembly SIMD vs JS kernel', () => {
  it('the WebAssembly SIMD kernel is available on Node 20+', () => {
    assert.equal(wasmGramAvailable(), true);
  });

  it('agree to 1e-12 (relative) on awkward sizes, and match the definition', () => {
    let seed = 1;
    for (const rows of ROWS) {
      for (const cols of COLS) {
        const a = randomMatrix(rows, cols, seed++);
        const js = gram(a, rows, cols, undefined, { kernel: 'js' });
        const wasm = gram(a, rows, cols, undefined, { kernel: 'wasm' });
        assertGramClose(wasm, js, rows, `${rows}×${cols} wasm vs js`);
        if (rows * rows * cols <= 2e6)
          assertGramClose(wasm, naiveGram(a, rows, cols), rows, `${rows}×${cols} vs naive`);
      }
    }
  });

  it('zero rows give exact zeros (and a zero matrix a zero Gram)', () => {
    for (const [rows, cols] of [
      [5, 10],
      [17, 9],
      [130, 4608],
    ]) {
      const a = randomMatrix(rows, cols, rows + cols);
      for (let r = 0; r < rows; r += 3) a.fill(0, r * cols, r * cols + cols);
      const js = gram(a, rows, cols, undefined, { kernel: 'js' });
      const wasm = gram(a, rows, cols, undefined, { kernel: 'wasm' });
      assertGramClose(wasm, js, rows, `${rows}×${cols} with zero rows`);
      for (let r = 0; r < rows; r += 3) assert.equal(wasm[r * rows + r], 0);
      const zeros = gram(new Float64Array(rows * cols), rows, cols, undefined, { kernel: 'wasm' });
      assert.ok(zeros.every((x) => x === 0));
    }
  });

  it('stale wasm memory and a dirty `out` do not leak into a later, smaller call', () => {
    const big = randomMatrix(130, 4608, 99);
    gram(big, 130, 4608, undefined, { kernel: 'wasm' }); // fills the kernel's memory with non-zeros
    for (const [rows, cols] of [
      [5, 10],
      [3, 1],
      [17, 3],
    ]) {
      const a = randomMatrix(rows, cols, 7 * rows + cols);
      const out = new Float64Array(rows * rows + 3).fill(Number.NaN);
      gram(a, rows, cols, out, { kernel: 'wasm' });
      assertGramClose(
        out.subarray(0, rows * rows),
        naiveGram(a, rows, cols),
        rows,
        `${rows}×${cols} after big`,
      );
      assert.ok(Number.isNaN(out[rows * rows]), 'writes only rows² values');
    }
  });

  it('column block sizes change only rounding', () => {
    const a = randomMatrix(64, 1000, 5);
    const ref = gram(a, 64, 1000, undefined, { kernel: 'js' });
    for (const blockCols of [1, 4, 5, 96, 512, 999, Number.POSITIVE_INFINITY]) {
      assertGramClose(
        gram(a, 64, 1000, undefined, { kernel: 'wasm', blockCols }),
        ref,
        64,
        `wasm block ${blockCols}`,
      );
      assertGramClose(
        gram(a, 64, 1000, undefined, { kernel: 'js', blockCols }),
        ref,
        64,
        `js block ${blockCols}`,
      );
    }
  });

  it("setGramKernel('js') forces the JS kernel for 'auto' (bit-for-bit)", () => {
    const a = randomMatrix(64, 576, 11);
    const js = gram(a, 64, 576, undefined, { kernel: 'js' });
    const previous = setGramKernel('js');
    try {
      assert.deepEqual(gram(a, 64, 576), js);
    } finally {
      setGramKernel(previous);
    }
    // 'auto' uses wasm for a matrix this size: same up to rounding, computed differently.
    assertGramClose(gram(a, 64, 576), js, 64, 'auto');
  });

  it('measureLayer: wasm and JS paths agree (orthogonality to 1e-12, the rest exactly)', () => {
    const rand = rng(3);
    for (const shape of [
      [64, 64, 3, 3],
      [130, 17, 3, 3],
      [33, 1, 3, 3],
      [256, 18, 1, 1],
    ]) {
      const w = Float32Array.from({ length: elementCount(shape) }, () => rand() - 0.5);
      for (let i = 0; i < shape[1] * 9 && i < w.length; i++) w[i] = 0; // a zero output filter
      const fast = measureLayer(w, shape).metrics;
      const previous = setGramKernel('js');
      let slow: typeof fast;
      try {
        slow = measureLayer(w, shape).metrics;
      } finally {
        setGramKernel(previous);
      }
      assert.deepEqual({ ...fast, orthogonality: 0 }, { ...slow, orthogonality: 0 }, `${shape}`);
      assert.ok(Math.abs(fast.orthogonality! - slow.orthogonality!) <= 1e-12, `${shape} orthogonality`);
    }
  });
});

/** An in-memory model of float32 layers (some views into one shared buffer, one with NaNs). */
function syntheticModel(): Model {
  const shapes = [
    [64, 64, 3, 3],
    [128, 64, 3, 3],
    [8, 3, 3, 3],
    [256, 128, 1, 1],
    [32, 1, 3, 3],
    [1, 16, 3, 3],
    [96, 48, 5, 5],
    [4, 4, 1, 7],
    [200, 100, 3, 3],
  ];
  const rand = rng(42);
  const total = shapes.reduce((s, sh) => s + elementCount(sh), 0);
  const shared = new Float32Array(total);
  for (let i = 0; i < total; i++) shared[i] = (rand() + rand() - 1) * 0.1;
  let offset = 0;
  const layers: ConvLayer[] = shapes.map((shape, i) => {
    const n = elementCount(shape);
    const start = offset;
    offset += n;
    return {
      name: `conv${i}`,
      op: 'Conv',
      kind: 'plain',
      shape,
      groups: 1,
      dtype: 'float32',
      graphDepth: i,
      convDepth: i,
      convDepthNorm: i / (shapes.length - 1),
      async loadWeight() {
        // Odd layers: a view into the shared buffer (copied before transfer); even: an owned array.
        const w = i % 2 ? shared.subarray(start, start + n) : shared.slice(start, start + n);
        if (i === 4) w[5] = Number.NaN;
        if (i === 6) for (let k = 0; k < n; k += 2) w[k] = 0; // many sparse filters
        return w;
      },
    };
  });
  return { format: 'synthetic', source: 'synthetic', graphDepthKnown: true, layers, warnings: [] };
}

describe('parallel quality pool', () => {
  let pool: QualityPool;
  before(() => {
    pool = new QualityPool(2);
  });
  after(async () => {
    await pool.close();
  });

  for (const file of ['digits_cnn.onnx', 'digits_dwsep.onnx', 'digits_cnn.pt', 'digits_cnn.safetensors']) {
    it(`${file}: pooled report deep-equals the serial one`, async () => {
      const model = await readModel(await openModelInput(dataPath(file)));
      const progress: [number, number][] = [];
      const pooled = await qualityReport(model, {
        measureBatch: pool.measureBatch,
        onLayer: (done, total) => progress.push([done, total]),
      });
      const serial = await qualityReport(model);
      assert.ok(serial.layers.length > 0);
      const n = serial.layers.length;
      assert.deepEqual(
        progress,
        Array.from({ length: n }, (_, i) => [i + 1, n]),
      );
      assert.deepEqual(pooled, serial);
    });
  }

  it('a synthetic multi-layer model (views, NaNs, sparse layers, sparsityEps) deep-equals the serial path', async () => {
    const model = syntheticModel();
    for (const options of [{}, { sparsityEps: 0.2 }, { kernel: '3x3' }]) {
      const pooled = await qualityReport(model, { ...options, measureBatch: pool.measureBatch });
      const serial = await qualityReport(model, options);
      assert.deepEqual(pooled, serial, JSON.stringify(options));
    }
    const again = await qualityReport(model, { measureBatch: pool.measureBatch });
    assert.equal(again.layers[4].flags[0].id, 'non-finite');
  });

  it('transfers owned buffers, leaves views intact, and reports errors per layer', async () => {
    const owned = new Float32Array(4 * 2 * 9).fill(0.5);
    const backing = new Float32Array(1000).fill(0.25);
    const view = backing.subarray(100, 100 + 72);
    const [a, b] = await Promise.all([pool.measure(owned, [4, 2, 3, 3]), pool.measure(view, [4, 2, 3, 3])]);
    assert.equal(owned.length, 0, 'owned buffer was transferred (detached)');
    assert.equal(backing[0], 0.25, 'the view’s buffer is still usable');
    assert.deepEqual(a, measureLayer(new Float32Array(72).fill(0.5), [4, 2, 3, 3]));
    assert.deepEqual(b, measureLayer(new Float32Array(72).fill(0.25), [4, 2, 3, 3]));
    await assert.rejects(pool.measure(new Float32Array(5), [2, 2, 1, 1]), RangeError);
    // the pool still works after a failed layer
    assert.deepEqual(
      await pool.measure(new Float32Array(8).fill(1), [2, 2, 1, 2]),
      measureLayer(new Float32Array(8).fill(1), [2, 2, 1, 2]),
    );
  });

  it('closing lets idle and still-starting workers end by themselves (exit code 0) and terminates only started busy ones (1)', async () => {
    // right after creation the workers are still loading modules: they must not be terminated there
    assert.deepEqual(await new QualityPool(2).close(), [0, 0]);
    // after work, idle
    const used = new QualityPool(2);
    await used.measure(new Float32Array(72).fill(0.5), [4, 2, 3, 3]);
    assert.deepEqual(await used.close(), [0, 0]);
    assert.deepEqual(await used.close(), [], 'a second close does nothing');
    // a started worker busy with a layer nobody waits for any more is terminated (exit code 1); the layer's
    // promise is rejected
    const layer = () => Float32Array.from({ length: 256 * 256 * 9 }, (_, i) => Math.sin(i));
    const busy = new QualityPool(1);
    await busy.measure(new Float32Array(72).fill(0.5), [4, 2, 3, 3]); // answered: it has started
    const rejected = assert.rejects(busy.measure(layer(), [256, 256, 3, 3]), /quality pool is closed/);
    assert.deepEqual(await busy.close(), [1]);
    await rejected;
    // a busy worker still starting (close() runs before its ready message can arrive) is never terminated
    // mid-start-up: it measures the layer, then takes the exit request and ends by itself (exit code 0)
    const starting = new QualityPool(1);
    const early = assert.rejects(starting.measure(layer(), [256, 256, 3, 3]), /quality pool is closed/);
    assert.deepEqual(await starting.close(), [0]);
    await early;
  });

  it('shouldUsePool: only above the weight threshold', () => {
    assert.equal(shouldUsePool([[64, 64, 3, 3]]), false);
    assert.equal(shouldUsePool([[64, 64, 3, 3]], 1000), availableParallelism() >= 2);
  });
});
