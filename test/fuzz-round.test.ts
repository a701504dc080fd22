/**
 * The CI round of the fuzz harness (bench/fuzz.ts, issue 17): a short seeded round per format, each input in
 * a child process with a deadline and an RSS cap. Any untyped error, hang or blow-up fails the test and is
 * saved (with how it was made) for reproduction. The full rounds are `npm run fuzz` (README, hostile input).
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { FORMATS, fuzz, mutate } from '../bench/fuzz.js';
import { mulberry32 } from './support/random.js';

/** Inputs per format: ~30 s for all seven on a busy 2-core machine. */
const COUNT: Record<string, number> = { keras: 300, 'dataset-h5': 300 };
const DEFAULT_COUNT = 500;
const outDir = mkdtempSync(join(tmpdir(), 'filterdb-fuzz-round-'));

describe('fuzz round (seed 1)', () => {
  it('mutations are seeded: the same seed gives the same input', () => {
    const input = Uint8Array.from({ length: 4096 }, (_, i) => i * 31);
    const a = mutate(input, mulberry32(7));
    const b = mutate(input, mulberry32(7));
    assert.deepEqual(a, b);
    assert.notDeepEqual(mutate(input, mulberry32(8)).bytes, a.bytes);
  });

  for (const format of Object.keys(FORMATS)) {
    it(`${format}: no untyped error, hang or run over 2 GB`, async () => {
      const s = await fuzz({
        format,
        count: COUNT[format] ?? DEFAULT_COUNT,
        seed: 1,
        timeoutMs: 10_000,
        rssMb: 2048,
        workers: 2,
        outDir: join(outDir, format),
      });
      assert.equal(s.counts.ok + s.counts.typed + s.counts.untyped + s.counts.hang + s.counts.oom, s.inputs);
      assert.ok(s.counts.typed > 0, 'mutations should break some files');
      assert.deepEqual(
        s.findings.map((f) => `${f.outcome} #${f.index}: ${f.detail} (${f.saved})`),
        [],
      );
    });
  }
});
