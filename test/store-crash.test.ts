/**
 * kill -9 during an ingest: every committed model stays whole, no half model is visible, and a rerun
 * completes the database. The same file is the child process (FILTERDB_CRASH_CHILD=db|dir).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { openDb, queryRows, queryValue } from '../src/store/db.js';
import { ingestPaths } from '../src/store/ingest.js';
import { writeSafetensors } from './support/safetensors-writer.js';

const MODELS = 20;
const LAYERS = 8;
const C = 128;

function generateModels(dir: string): void {
  let s = 7;
  for (let m = 0; m < MODELS; m++) {
    const tensors = Array.from({ length: LAYERS }, (_, l) => {
      const data = new Float32Array(C * C * 9);
      for (let i = 0; i < data.length; i++) {
        s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
        data[i] = s / 4294967296 - 0.5;
      }
      return { name: `conv${l}.weight`, shape: [C, C, 3, 3], data };
    });
    writeSafetensors(join(dir, `model${String(m).padStart(2, '0')}.safetensors`), tensors);
  }
}

const child = process.env.FILTERDB_CRASH_CHILD;
if (child) {
  const [dbPath, dir] = child.split('|');
  const db = await openDb(dbPath);
  await ingestPaths(db, [dir], {
    onResult: (r) => process.stdout.write(`${r.status} ${r.name}\n`),
  });
  db.close();
} else {
  const root = mkdtempSync(join(tmpdir(), 'filterdb-crash-'));
  after(() => rmSync(root, { recursive: true, force: true }));

  test('SIGKILL mid-ingest leaves committed models intact and no half model; a rerun completes', async () => {
    const dir = join(root, 'models');
    mkdirSync(dir);
    generateModels(dir);
    const dbPath = join(root, 'crash.duckdb');
    const proc = spawn(process.execPath, [fileURLToPath(import.meta.url)], {
      env: { ...process.env, FILTERDB_CRASH_CHILD: `${dbPath}|${dir}` },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let done = 0;
    await new Promise<void>((resolve, reject) => {
      proc.stdout.on('data', (d: Buffer) => {
        done += String(d)
          .split('\n')
          .filter((l) => l.startsWith('added')).length;
        if (done >= 3 && !proc.killed) setTimeout(() => proc.kill('SIGKILL'), 40);
      });
      proc.on('exit', (code, signal) =>
        signal === 'SIGKILL' ? resolve() : reject(new Error(`child ended ${code} ${signal}`)),
      );
    });
    const committedBeforeKill = done;

    const db = await openDb(dbPath);
    try {
      const check = async () => {
        const models = await queryRows(
          db.connection,
          `SELECT m.model_id, m.conv_layers, m.stored_filters,
             (SELECT count(*) FROM layers l WHERE l.model_id = m.model_id) AS layers,
             (SELECT coalesce(sum(filter_count), 0) FROM layers l WHERE l.model_id = m.model_id) AS layer_filters,
             (SELECT count(*) FROM filters f WHERE f.model_id = m.model_id) AS filters
           FROM models m`,
        );
        for (const m of models) {
          assert.equal(m.layers, LAYERS, `model ${m.model_id} layers`);
          assert.equal(m.conv_layers, LAYERS);
          assert.equal(m.filters, LAYERS * C * C, `model ${m.model_id} filters`);
          assert.equal(m.layer_filters, m.filters);
          assert.equal(m.stored_filters, m.filters);
        }
        const orphans = await queryValue(
          db.connection,
          `SELECT (SELECT count(*) FROM layers WHERE model_id NOT IN (SELECT model_id FROM models))
                + (SELECT count(*) FROM filters WHERE model_id NOT IN (SELECT model_id FROM models))`,
        );
        assert.equal(orphans, 0);
        const dupIds = await queryValue(
          db.connection,
          'SELECT count(*) - count(DISTINCT filter_id) FROM filters',
        );
        assert.equal(dupIds, 0);
        return models.length;
      };
      const stored = await check();
      assert.ok(
        stored >= committedBeforeKill,
        `${stored} models stored, ${committedBeforeKill} reported committed`,
      );
      assert.ok(stored < MODELS, 'the child was killed before the end');

      const rerun = await ingestPaths(db, [dir]);
      assert.equal(rerun.counts.failed, 0);
      assert.equal(rerun.counts.unchanged, stored);
      assert.equal(rerun.counts.added, MODELS - stored);
      assert.equal(await check(), MODELS);
    } finally {
      db.close();
    }
  });
}
