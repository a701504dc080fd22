/**
 * libhdf5 (h5wasm) on hostile files (issue 17, items 4 and 5): a global heap collection whose free-space
 * object has size 0 made libhdf5 loop forever, and ~2 000 failed opens poisoned the module for valid files.
 * HDF5 now runs in a worker with a deadline (src/node/hdf5-remote.ts) and hdf5.ts checks global heap
 * collections before libhdf5 parses them.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import h5wasm from 'h5wasm';
import { FilterDbError } from '../src/errors.js';
import { globalHeapProblem, openHdf5 } from '../src/formats/io/hdf5.js';
import { bytesSource } from '../src/formats/io/source.js';
import { FAILURE_BUDGET } from '../src/node/hdf5-remote.js';
import { dataPath, repoRoot } from './support/paths.js';

const cli = join(repoRoot, 'dist/src/cli/main.js');
const tmp = mkdtempSync(join(tmpdir(), 'filterdb-hdf5-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** Offset of the 8-byte size of the free-space object (index 0) of the first global heap collection. */
function freeSpaceSizeOffset(bytes: Uint8Array): number {
  const at = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).indexOf('GCOL');
  assert.ok(at >= 0, 'no global heap collection');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const end = at + Number(view.getBigUint64(at + 8, true));
  for (let p = at + 16; p + 16 <= end; ) {
    const index = view.getUint16(p, true);
    const size = Number(view.getBigUint64(p + 8, true));
    if (index === 0) return p + 8;
    p += 16 + Math.ceil(size / 8) * 8;
  }
  assert.fail('no free-space object');
}

/** A Keras-2-style .h5 whose model_config (a variable-length string) lives in the global heap. */
async function kerasH5(): Promise<Uint8Array> {
  const { FS } = await h5wasm.ready;
  const path = '/hostile-keras.h5';
  const f = new h5wasm.File(path, 'w');
  f.create_attribute('keras_version', '2.13.1');
  f.create_attribute('backend', 'tensorflow');
  f.create_attribute('model_config', JSON.stringify({ class_name: 'Sequential', config: { layers: [] } }));
  f.create_group('model_weights');
  f.close();
  const bytes = FS!.readFile(path);
  FS!.unlink(path);
  return bytes;
}

function run(args: string[], env: Record<string, string> = {}) {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [cli, ...args], {
    encoding: 'utf8',
    env: { ...process.env, FILTERDB_NO_PROGRESS: '1', ...env },
    timeout: 60_000,
  });
  return {
    code: r.status,
    stderr: r.stderr,
    output: r.stdout + r.stderr,
    seconds: (performance.now() - t0) / 1000,
  };
}

/** Both ways a loop is stopped: the heap check (default), and the worker's deadline with the check off. */
const UNCHECKED = { FILTERDB_HDF5_HEAP_CHECK: '0', FILTERDB_HDF5_DEADLINE_MS: '1500' };

describe('a global heap whose free-space size is 0 (item 4)', () => {
  it('the check finds it in the fixture dataset.h5 (2 bytes at 12088) and accepts the intact file', () => {
    const good = new Uint8Array(readFileSync(dataPath('dataset.h5')));
    assert.equal(globalHeapProblem(good, 0, good.length), null);
    const bad = good.slice();
    bad[12088] = 0;
    bad[12089] = 0;
    assert.match(
      globalHeapProblem(bad, 0, bad.length) ?? '',
      /collection at 11072: object 0 at 12080 has size 0/,
    );
    const past = good.slice(0, 12000);
    assert.match(globalHeapProblem(past, 0, past.length) ?? '', /past the end of the file/);
  });

  it('import-h5 of it: typed corrupt error, by the check and (check off) by the deadline', () => {
    const bytes = new Uint8Array(readFileSync(dataPath('dataset.h5')));
    bytes[12088] = 0;
    bytes[12089] = 0;
    const file = join(tmp, 'heap0.h5');
    writeFileSync(file, bytes);
    const checked = run(['import-h5', file, '--db', join(tmp, 'a.duckdb')]);
    assert.equal(checked.code, 1, checked.stderr);
    assert.match(
      checked.stderr,
      /heap0\.h5: .*global heap collection at 11072: object 0 at 12080 has size 0/,
    );
    const unchecked = run(['import-h5', file, '--db', join(tmp, 'b.duckdb')], UNCHECKED);
    assert.equal(unchecked.code, 1, unchecked.stderr);
    assert.match(unchecked.stderr, /heap0\.h5: HDF5 \w+ did not finish within 1500 ms/);
    assert.ok(unchecked.seconds < 30, `${unchecked.seconds} s`);
  });

  it('quality and ingest of a Keras .h5 with it: typed corrupt, the other files of an ingest still land', async () => {
    const bytes = await kerasH5();
    const at = freeSpaceSizeOffset(bytes);
    bytes.fill(0, at, at + 8);
    const file = join(tmp, 'keras-heap0.h5');
    writeFileSync(file, bytes);
    for (const env of [{}, UNCHECKED]) {
      const q = run(['quality', file], env);
      assert.equal(q.code, 1, q.stderr);
      assert.match(q.stderr, /keras-heap0\.h5: .*(has size 0|did not finish within)/);
      const db = join(tmp, `ingest-${Object.keys(env).length}.duckdb`);
      const i = run(['ingest', file, dataPath('digits_cnn.onnx'), '--db', db], env);
      assert.equal(i.code, 1, i.stderr);
      assert.match(i.output, /failed: .*keras-heap0\.h5/);
      assert.match(i.output, /database now: 1 models/);
    }
  });
});

describe('many failed opens do not poison HDF5 (item 5)', () => {
  it(`5000 corrupt files, then a valid one opens and reads (worker replaced every ${FAILURE_BUDGET} failures)`, async () => {
    // dataset.h5 cut at 5000 different points in its first 60 KB (superblock, object headers, heaps): without
    // replacing the h5wasm instance, the valid file failed with "Aborted()" after 2000–2500 of these.
    const good = new Uint8Array(readFileSync(dataPath('dataset.h5')));
    for (let i = 0; i < 5000; i++) {
      const cut = 1000 + ((i * 7919) % 60000);
      await assert.rejects(
        (async () => {
          const f = await openHdf5(bytesSource(`cut-${i}.h5`, good.subarray(0, cut)));
          try {
            f.readValue('/meta/axis0');
            f.datasetInfo('/filters');
          } finally {
            f.close();
          }
        })(),
        (e: unknown) => {
          assert.ok(e instanceof FilterDbError, String(e));
          return true;
        },
      );
    }
    const f = await openHdf5({ path: dataPath('dataset.h5') });
    try {
      assert.equal(f.datasetInfo('/filters').shape[0], 8672);
      assert.equal(f.readFloats('/filters', [[0, 2]]).data.length, 18);
    } finally {
      f.close();
    }
  });
});
