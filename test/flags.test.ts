/**
 * The flag definitions of src/metrics/flags.ts, unit by unit (issue 20 item 6: the mutants the metric tests left
 * alive). Every expected value is written out by hand from the definitions in flags.ts' header comment: the
 * thresholds (sparse > 0.1, low-diversity < 0.5, random-like ≥ 1, tiny n ≤ kh·kw or out = 1), the one list of
 * degeneration flags, and the reason texts users read in `quality`, the reports and the app.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  ALL_FLAGS,
  DEGENERATION_FLAGS,
  degeneratedSql,
  degenerationFlags,
  flagLayer,
  isDegenerated,
  isDegenerationFlag,
  modelVerdict,
  notMeasured,
} from '../src/metrics/flags.js';
import type { LayerMetrics } from '../src/metrics/types.js';

/** A healthy-looking 3×3 layer of 64 filters; each test overrides what it is about. */
function metrics(over: Partial<LayerMetrics> = {}): LayerMetrics {
  return {
    n: 64,
    sparsity: 0,
    varianceEntropy: 0.7,
    varianceEntropyNorm: 0.8,
    varianceEntropyClean: 0.7,
    varianceEntropyCleanNorm: 0.8,
    orthogonality: 0.9,
    normL1: 10,
    normL2: 2,
    normL1Norm: 50,
    normL2Norm: 8,
    ...over,
  };
}
const ids = (flags: { id: string }[]): string[] => flags.map((f) => f.id);

describe('the one definition of "degenerated"', () => {
  test('the degeneration flags are sparse, low-diversity, random-like and non-finite; tiny is listed last but does not count', () => {
    assert.deepEqual([...DEGENERATION_FLAGS], ['sparse', 'low-diversity', 'random-like', 'non-finite']);
    assert.deepEqual([...ALL_FLAGS], ['sparse', 'low-diversity', 'random-like', 'non-finite', 'tiny']);
    for (const id of DEGENERATION_FLAGS) assert.equal(isDegenerationFlag(id), true, id);
    for (const id of ['tiny', 'overflow', 'Sparse', '']) assert.equal(isDegenerationFlag(id), false, id);
  });

  test('degenerationFlags keeps the degeneration flags in their order and treats null as no flags', () => {
    const flags = [{ id: 'tiny' }, { id: 'random-like' }, { id: 'overflow' }, { id: 'sparse' }];
    assert.deepEqual(degenerationFlags(flags), [{ id: 'random-like' }, { id: 'sparse' }]);
    assert.deepEqual(degenerationFlags(null), []);
    assert.deepEqual(degenerationFlags(undefined), []);
  });

  test('isDegenerated: null when never assessed, false for no or only non-degeneration flags, true for any one', () => {
    assert.equal(isDegenerated(null), null);
    assert.equal(isDegenerated(undefined), null);
    assert.equal(isDegenerated([]), false);
    assert.equal(isDegenerated([{ id: 'tiny' }, { id: 'overflow' }]), false);
    // one degeneration flag among others is enough (some, not every)
    assert.equal(isDegenerated([{ id: 'tiny' }, { id: 'non-finite' }]), true);
  });

  test('degeneratedSql is the same list as a DuckDB expression, NULL for unassessed layers', () => {
    const list = "'sparse', 'low-diversity', 'random-like', 'non-finite'";
    assert.equal(
      degeneratedSql(),
      `(CASE WHEN flags IS NULL THEN NULL ELSE len(list_filter(flags, f -> f IN (${list}))) > 0 END)`,
    );
    assert.equal(
      degeneratedSql('l.flags'),
      `(CASE WHEN l.flags IS NULL THEN NULL ELSE len(list_filter(l.flags, f -> f IN (${list}))) > 0 END)`,
    );
  });
});

describe('flagLayer: each flag, its threshold and its reason', () => {
  test('a healthy 3×3 layer of 64 filters gets no flag', () => {
    assert.deepEqual(flagLayer(metrics(), 0, [8, 8, 3, 3]), []);
  });

  test('non-finite: the count in words, singular and plural', () => {
    const tail = 'NaN or infinite; entropy, orthogonality and standardised norms are not computed';
    assert.deepEqual(flagLayer(metrics({ varianceEntropyNorm: null }), 1, [8, 8, 3, 3]), [
      { id: 'non-finite', reason: `1 weight is ${tail}` },
    ]);
    assert.deepEqual(flagLayer(metrics({ varianceEntropyNorm: null }), 3, [8, 8, 3, 3]), [
      { id: 'non-finite', reason: `3 weights are ${tail}` },
    ]);
  });

  test('overflow: raised when either norm is null', () => {
    const reason =
      'the weights are so large that their L1/L2 norm exceeds float64 range (> 1.8e308); those norms are not reported';
    assert.deepEqual(flagLayer(metrics({ normL1: null }), 0, [8, 8, 3, 3]), [{ id: 'overflow', reason }]);
    assert.deepEqual(flagLayer(metrics({ normL2: null }), 0, [8, 8, 3, 3]), [{ id: 'overflow', reason }]);
  });

  test('sparse: above 0.1 only; the reason rounds ≥ 10 % to an integer and below to one decimal', () => {
    assert.deepEqual(flagLayer(metrics({ sparsity: 0.1 }), 0, [8, 8, 3, 3]), []);
    // 0.125 → 12.5 % → toFixed(0) = "13"; eps 0.01 → 1 % → "1"
    assert.deepEqual(flagLayer(metrics({ sparsity: 0.125 }), 0, [8, 8, 3, 3]), [
      { id: 'sparse', reason: "13% of filters are near zero (< 1% of the layer's max |w|)" },
    ]);
    // eps 0.005 → 0.5 % (one decimal kept: "0.5", not toFixed(0)'s "1"); 0.5 → 50 %
    assert.deepEqual(flagLayer(metrics({ sparsity: 0.5 }), 0, [8, 8, 3, 3], 0.005), [
      { id: 'sparse', reason: "50% of filters are near zero (< 0.5% of the layer's max |w|)" },
    ]);
    // eps 0.0123 → 1.23 % → one decimal: 1.2
    assert.deepEqual(flagLayer(metrics({ sparsity: 0.2 }), 0, [8, 8, 3, 3], 0.0123), [
      { id: 'sparse', reason: "20% of filters are near zero (< 1.2% of the layer's max |w|)" },
    ]);
  });

  test('tiny: n ≤ kh·kw (with the count in words) and out = 1, both reasons joined; tiny layers skip the entropy flags', () => {
    const few = (n: number, s: string) =>
      `only ${n} filter${s} of 9 values: too few to span the kernel space, so variance entropy is not meaningful`;
    // n = 9 = k: tiny (≤), even with a low entropy, no low-diversity
    assert.deepEqual(flagLayer(metrics({ n: 9, varianceEntropyNorm: 0.1 }), 0, [3, 3, 3, 3]), [
      { id: 'tiny', reason: few(9, 's') },
    ]);
    assert.deepEqual(flagLayer(metrics({ n: 1 }), 0, [1, 1, 3, 3]), [
      { id: 'tiny', reason: `${few(1, '')}; a single output filter: orthogonality is undefined` },
    ]);
    // out = 1 alone: n = 16 > 9
    assert.deepEqual(flagLayer(metrics({ n: 16, varianceEntropyNorm: 1.5 }), 0, [1, 16, 3, 3]), [
      { id: 'tiny', reason: 'a single output filter: orthogonality is undefined' },
    ]);
    // out unknown (dataset.h5): only the n ≤ k part can be decided; n = 10 > 9 is not tiny
    assert.deepEqual(flagLayer(metrics({ n: 10 }), 0, [null, null, 3, 3]), []);
    // a missing kernel size counts as 1×1: n = 1 ≤ 1
    assert.deepEqual(ids(flagLayer(metrics({ n: 1 }), 0, [null, null, null, null])), ['tiny']);
  });

  test('low-diversity below 0.5 and random-like at or above 1, for 3×3 kernels only, with the ratio in the reason', () => {
    assert.deepEqual(flagLayer(metrics({ varianceEntropyNorm: 0.3 }), 0, [8, 8, 3, 3]), [
      {
        id: 'low-diversity',
        reason:
          "variance entropy is 0.30 of a random layer's (< 0.5): filters are redundant, varying along few directions",
      },
    ]);
    assert.deepEqual(flagLayer(metrics({ varianceEntropyNorm: 0.5 }), 0, [8, 8, 3, 3]), []);
    assert.deepEqual(flagLayer(metrics({ varianceEntropyNorm: 0.999 }), 0, [8, 8, 3, 3]), []);
    assert.deepEqual(flagLayer(metrics({ varianceEntropyNorm: 1 }), 0, [8, 8, 3, 3]), [
      {
        id: 'random-like',
        reason:
          "variance entropy is 1.00× a random layer's (≥ 1): filters look like untrained random initialisation",
      },
    ]);
    // 5×5 and 1×1 kernels: no reference point, no entropy flag
    assert.deepEqual(flagLayer(metrics({ varianceEntropyNorm: 1.2 }), 0, [8, 8, 5, 5]), []);
    assert.deepEqual(flagLayer(metrics({ varianceEntropyNorm: 0 }), 0, [8, 8, 1, 1]), []);
    assert.deepEqual(flagLayer(metrics({ varianceEntropyNorm: null }), 0, [8, 8, 3, 3]), []);
  });

  test('several flags come in the order non-finite, overflow, sparse, tiny', () => {
    const f = flagLayer(metrics({ n: 4, sparsity: 0.5, normL2: null }), 2, [4, 1, 3, 3]);
    assert.deepEqual(ids(f), ['non-finite', 'overflow', 'sparse', 'tiny']);
  });
});

describe('what was not measured, and the model verdict', () => {
  test('notMeasured: everything when never assessed, orthogonality when the shape is unknown, else nothing', () => {
    assert.deepEqual(notMeasured({ flags: null, shape: [8, 8, 3, 3] }), ['metrics and flags']);
    assert.deepEqual(notMeasured({ flags: undefined, shape: [8, 8, 3, 3] }), ['metrics and flags']);
    assert.deepEqual(notMeasured({ flags: [], shape: null }), ['orthogonality']);
    assert.deepEqual(notMeasured({ flags: [], shape: undefined }), ['orthogonality']);
    assert.deepEqual(notMeasured({ flags: [], shape: [] }), ['orthogonality']);
    assert.deepEqual(notMeasured({ flags: [], shape: [8, 8, 3, 3] }), []);
  });

  test('modelVerdict: every state with its text', () => {
    assert.deepEqual(modelVerdict({ layers: 5, degenerated: 0 }), { state: 'healthy', text: 'healthy' });
    assert.deepEqual(modelVerdict({ layers: 5, degenerated: 2 }), {
      state: 'degenerated',
      text: '2/5 degenerated',
    });
    assert.deepEqual(
      modelVerdict({ layers: 5, degenerated: 2, notAssessed: 1, orthogonalityNotMeasured: 3 }),
      {
        state: 'degenerated',
        text: '2/5 degenerated (1 of 5 layers not measured; orthogonality not measured)',
      },
    );
    assert.deepEqual(modelVerdict({ layers: 5, degenerated: 0, notAssessed: 2 }), {
      state: 'not-measured',
      text: 'no degenerated layers (2 of 5 layers not measured)',
    });
    // nothing assessed: no "k of n" detail, just "not measured"
    assert.deepEqual(modelVerdict({ layers: 5, degenerated: 0, notAssessed: 5 }), {
      state: 'not-measured',
      text: 'not measured',
    });
    assert.deepEqual(modelVerdict({ layers: 0, degenerated: 0 }), {
      state: 'not-measured',
      text: 'not measured',
    });
    assert.deepEqual(
      modelVerdict({ layers: 3, degenerated: 0, notAssessed: 0, orthogonalityNotMeasured: 3 }),
      {
        state: 'healthy',
        text: 'healthy (orthogonality not measured)',
      },
    );
  });
});
