/**
 * Engines that cannot run the WebAssembly Gram kernel (src/metrics/wasm/gram.ts): one without WebAssembly (a
 * page whose CSP forbids it) and one that rejects the SIMD module (CompileError, as an engine without SIMD
 * does). Each loads its own instance of the module (a distinct import URL) after replacing the global, so the
 * kernel's one-time load sees that engine: the kernel reports itself unavailable, and `gram` and `crossGram`
 * fall back to JS with the same exact answers. Nothing in this file may load the kernel before these tests.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { ints, naiveCross } from './support/exact-matrices.js';

type GramModule = typeof import('../src/metrics/wasm/gram.js');
type LinalgModule = typeof import('../src/metrics/linalg.js');

const realWebAssembly = globalThis.WebAssembly;
after(() => {
  globalThis.WebAssembly = realWebAssembly;
});

let instance = 0;
/**
 * A fresh instance of wasm/gram.js loaded while `engine` is the global, and linalg.js, whose (shared) instance
 * of wasm/gram.js is also first loaded here — so every test in this file runs linalg without the kernel.
 */
async function loadWith(
  engine: typeof WebAssembly | undefined,
): Promise<{ gram: GramModule; linalg: LinalgModule }> {
  (globalThis as { WebAssembly?: typeof WebAssembly }).WebAssembly = engine;
  try {
    const gram = (await import(`../src/metrics/wasm/gram.js?engine=${++instance}`)) as GramModule;
    // the kernel loads on first use, so use it while this engine is the global
    gram.wasmGramAvailable();
    const shared = await import('../src/metrics/wasm/gram.js');
    shared.wasmGramAvailable();
    return { gram, linalg: await import('../src/metrics/linalg.js') };
  } finally {
    globalThis.WebAssembly = realWebAssembly;
  }
}

function checkFallback({ gram, linalg }: { gram: GramModule; linalg: LinalgModule }) {
  assert.equal(gram.wasmGramAvailable(), false);
  const a = ints(9 * 600, 3);
  const c = new Float64Array(81).fill(3);
  assert.equal(gram.gramWasm(a, 9, 600, c), false);
  assert.equal(gram.crossGramWasm(a, 4, a, 5, 600, c), false);
  assert.ok(
    c.every((x) => x === 3),
    'the output is untouched',
  );
  // 40 × 600 (480 000 multiply-adds): auto would pick WebAssembly; it falls back to JS
  const big = ints(40 * 600, 5);
  assert.deepEqual(Array.from(linalg.gram(big, 40, 600)), naiveCross(big, 40, big, 40, 600));
  const out = new Float64Array(20);
  assert.deepEqual(Array.from(linalg.crossGram(big, 4, big, 5, 600, out)), naiveCross(big, 4, big, 5, 600));
  assert.throws(() => linalg.gram(big, 40, 600, undefined, { kernel: 'wasm' }), {
    message: 'gram: the WebAssembly SIMD kernel is not available here (or 40×600 is too big)',
  });
}

describe('without the WebAssembly kernel', () => {
  it('no WebAssembly at all: unavailable, JS fallback', async () => {
    checkFallback(await loadWith(undefined));
  });

  it('a module the engine rejects (no SIMD): unavailable, JS fallback', async () => {
    let compiled = 0;
    const engine = {
      ...realWebAssembly,
      Module: function Module() {
        compiled++;
        throw new realWebAssembly.CompileError('SIMD unsupported');
      },
    } as unknown as typeof WebAssembly;
    const loaded = await loadWith(engine);
    const tries = compiled;
    assert.ok(tries >= 1);
    checkFallback(loaded);
    assert.equal(compiled, tries, 'tried once, not on every call');
  });
});
