/** A temporary filter database holding the fixture dataset.h5 (removed after the test file). */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { openDb } from '../../src/store/db.js';
import { importDatasetH5 } from '../../src/store/import-h5.js';
import { dataPath } from './paths.js';

/** The path of a database the test file's `before` fills with dataset.h5 (metrics skipped). */
export function fixtureDb(prefix: string): string {
  const tmp = mkdtempSync(join(tmpdir(), prefix));
  const path = join(tmp, 'fx.duckdb');
  after(() => rmSync(tmp, { recursive: true, force: true }));
  before(async () => {
    const db = await openDb(path);
    try {
      await importDatasetH5(db, dataPath('dataset.h5'), { skipMetrics: true });
    } finally {
      db.close();
    }
  });
  return path;
}
