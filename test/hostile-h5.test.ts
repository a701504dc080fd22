/**
 * Hostile dataset.h5 files for import-h5 (issue 17, items 6–8), made by test/data/hostile-h5/make.py:
 * numbers DuckDB cannot store, metadata cells that nest or share without bound, and a /filters claiming
 * 2^31 rows. Each must stop with a typed error naming what is wrong, and leave the database as it was.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { FilterDbError } from '../src/errors.js';
import { openDb, queryValue } from '../src/store/db.js';
import { importDatasetH5 } from '../src/store/import-h5.js';
import { dataPath } from './support/paths.js';

const tmp = mkdtempSync(join(tmpdir(), 'filterdb-hostile-h5-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const CASES: [file: string, message: RegExp][] = [
  ['conv_depth_2p31.h5', /\/meta row 1: conv_depth = 2147483648 is not an integer from 0 to 2147483647/],
  ['kernel_count_half.h5', /\/meta row 0: "\(1, 1\) filters" = 0\.5 is not a whole number/],
  ['op_set_1e19.h5', /\/meta row 0: op_set = 10000000000000000000 is not an integer/],
  ['cell_laughs40.h5', /row 0, column "Architecture": the cell renders to more than 65536 characters/],
  ['cell_deep100k.h5', /row 0, column "Architecture": the cell nests lists more than 64 deep/],
  ['claims_2p31_rows.h5', /\/filters claims 2147483648 rows .* can hold at most 1262/],
];

describe('import-h5: hostile metadata and sizes (items 6–8)', () => {
  for (const [file, message] of CASES) {
    it(`${file}: typed corrupt error, database unchanged`, async () => {
      const db = await openDb(join(tmp, `${file}.duckdb`));
      try {
        await importDatasetH5(db, dataPath('hostile-h5/valid.h5'), { skipMetrics: true });
        const t0 = performance.now();
        await assert.rejects(importDatasetH5(db, dataPath(`hostile-h5/${file}`)), (e: unknown) => {
          assert.ok(e instanceof FilterDbError, String(e));
          assert.equal(e.code, 'corrupt');
          assert.match(e.message, message);
          assert.match(e.message, new RegExp(file.replace('.', '\\.')));
          return true;
        });
        assert.ok(performance.now() - t0 < 10_000);
        assert.equal(await queryValue(db.connection, 'SELECT count(*) FROM models'), 1);
        assert.equal(await queryValue(db.connection, 'SELECT count(*) FROM filters'), 272);
      } finally {
        db.close();
      }
    });
  }
});
