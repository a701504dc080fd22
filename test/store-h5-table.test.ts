/**
 * import-h5 with /meta in pandas' "table" format (test/data/dataset.table.h5, made by make_table_meta.py from
 * dataset.h5): the same frame and the same database as the default "fixed" format; damaged tables are refused
 * with a FilterDbError naming the file.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { FilterDbError } from '../src/errors.js';
import { readPandasFrame } from '../src/formats/dataset-h5/pandas-h5.js';
import { openHdf5 } from '../src/formats/io/hdf5.js';
import { type FilterDb, openDb, queryRows, queryValue } from '../src/store/db.js';
import { importDatasetH5 } from '../src/store/import-h5.js';
import { dataPath } from './support/paths.js';

const tmp = mkdtempSync(join(tmpdir(), 'filterdb-h5t-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const FIXED = dataPath('dataset.h5');
const TABLE = dataPath('dataset.table.h5');

async function frameOf(path: string) {
  const f = await openHdf5({ path });
  try {
    return readPandasFrame(f, '/meta');
  } finally {
    f.close();
  }
}

test('a table-format /meta decodes to exactly the fixed-format frame (values, index, column order)', async () => {
  const fixed = await frameOf(FIXED);
  const table = await frameOf(TABLE);
  assert.equal(table.rows.length, 22);
  assert.deepEqual(table, fixed);
  // Maps compare without order: the row values must also come in the same (column) order
  assert.deepEqual(
    table.rows.map((r) => [...r.values.entries()]),
    fixed.rows.map((r) => [...r.values.entries()]),
  );
  assert.deepEqual(
    fixed.rows.map((r) => [...r.values.keys()]),
    fixed.rows.map(() => fixed.columns),
  );
  assert.equal(table.rows[3].values.get('(1, 1) filters'), null); // NaN
  assert.equal(table.rows[7].values.get('(1, 1) filters'), 7680); // digits_dwsep's pointwise 1x1 filters
});

/** Every table and view, in a stable order, without what legitimately differs (the file path, the time). */
async function dump(db: FilterDb) {
  const q = (sql: string) => queryRows(db.connection, sql);
  return {
    models: await q('SELECT * EXCLUDE (file, ingested_at) FROM models ORDER BY model_id'),
    modelMeta: await q('SELECT * FROM model_meta ORDER BY model_id, key'),
    modelMetaOrder: await q('SELECT model_id, key FROM model_meta ORDER BY rowid'),
    layers: await q('SELECT * FROM layers ORDER BY layer_id'),
    filters: await q('SELECT * FROM filters ORDER BY filter_id'),
    filtersOther: await q('SELECT count(*) AS n FROM filters_other'),
    modelInfo: await q('SELECT * EXCLUDE (file) FROM model_info ORDER BY model_id'),
    layerInfo: await q('SELECT * EXCLUDE (file) FROM layer_info ORDER BY layer_id'),
  };
}

test('importing the table-format dataset gives the same models, metadata, layers and filters', async () => {
  const a = await openDb(join(tmp, 'fixed.duckdb'));
  const b = await openDb(join(tmp, 'table.duckdb'));
  try {
    const sa = await importDatasetH5(a, FIXED);
    const sb = await importDatasetH5(b, TABLE, { blockRows: 1000 });
    assert.deepEqual(
      sb.models.map((m) => [m.name, m.status, m.layers, m.filters]),
      sa.models.map((m) => [m.name, m.status, m.layers, m.filters]),
    );
    assert.equal(sb.filters, 8672);
    assert.equal(sb.unreferencedFilters, 0);
    const da = await dump(a);
    const db = await dump(b);
    assert.equal(db.filters.length, 8672);
    assert.equal(db.layers.length, 22);
    assert.equal(db.models.length, 4);
    assert.deepEqual(Object.keys(db.modelInfo[0]), Object.keys(da.modelInfo[0])); // view column order
    assert.deepEqual(db, da);
    assert.ok(String(db.models[0].content_hash).startsWith('h5:sha256:'));

    const again = await importDatasetH5(b, TABLE);
    assert.deepEqual(
      again.models.map((m) => m.status),
      ['unchanged', 'unchanged', 'unchanged', 'unchanged'],
    );
  } finally {
    a.close();
    b.close();
  }
});

type Edit =
  /** replace these bytes, found exactly once */
  | { from: Uint8Array; to: Uint8Array }
  /** replace the value of this attribute (its name found exactly once), which must currently be `from` */
  | { attr: string; from: Uint8Array; to: Uint8Array };

function findOnce(bytes: Uint8Array, pattern: Uint8Array): number {
  const hits: number[] = [];
  for (let i = bytes.indexOf(pattern[0]); i >= 0; i = bytes.indexOf(pattern[0], i + 1)) {
    if (pattern.every((x, k) => bytes[i + k] === x)) hits.push(i);
  }
  assert.equal(hits.length, 1, `pattern found ${hits.length} times`);
  return hits[0];
}

/**
 * A copy of the table fixture with some bytes changed. An HDF5 (v1 object header) attribute message holds
 * the NUL-terminated name padded to 8 bytes, the datatype (8 bytes, 16 for integers), an 8-byte scalar
 * dataspace, then the value.
 */
function patched(name: string, edits: Edit[]): string {
  const bytes = Uint8Array.from(readFileSync(TABLE));
  for (const e of edits) {
    assert.equal(e.from.length, e.to.length);
    let at: number;
    if ('attr' in e) {
      const n = ascii(`${e.attr}\0`);
      const type = findOnce(bytes, n) + Math.ceil(n.length / 8) * 8;
      // integer datatypes carry 8 more bytes (bit offset, precision, padding); strings none
      at = type + 8 + ((bytes[type] & 0x0f) === 0 ? 8 : 0) + 8;
      assert.deepEqual(bytes.subarray(at, at + e.from.length), e.from);
    } else at = findOnce(bytes, e.from);
    bytes.set(e.to, at);
  }
  const path = join(tmp, name);
  writeFileSync(path, bytes);
  return path;
}

const u64 = (n: bigint) => {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, n, true);
  return b;
};
const ascii = (s: string) => new TextEncoder().encode(s);
/** /meta/table's dataspace message: current size 22 rows, maximum unlimited. */
const dataspace = (rows: bigint) => Uint8Array.from([...u64(rows), ...u64(0xffffffffffffffffn)]);

async function assertRefused(db: FilterDb, path: string, message: RegExp, code?: string) {
  const name = path.split('/').pop() as string;
  await assert.rejects(importDatasetH5(db, path), (e: unknown) => {
    assert.ok(e instanceof FilterDbError, String(e));
    assert.ok(e.message.includes(name), e.message);
    assert.match(e.message, message);
    if (code) assert.equal(e.code, code);
    return true;
  });
}

test('damaged table-format files are refused with an error naming the file, never a crash or hang', async () => {
  const db = await openDb(join(tmp, 'hostile.duckdb'));
  try {
    const whole = readFileSync(TABLE);
    for (const cut of [100, 5000, 20000, 60000, 100000, Math.floor(whole.length / 2), whole.length - 1]) {
      const p = join(tmp, `truncated-${cut}.h5`);
      writeFileSync(p, whole.subarray(0, cut));
      await assertRefused(db, p, /truncated/, 'truncated');
      // the same cut with the superblock's end-of-file address (v0 superblock, offset 40) made to match:
      // HDF5 opens it and every read past the end must still fail cleanly
      const b = Buffer.from(whole.subarray(0, cut));
      if (cut >= 48 && b[8] === 0) {
        b.writeBigUInt64LE(BigInt(cut), 40);
        const q = join(tmp, `cut-${cut}.h5`);
        writeFileSync(q, b);
        await assertRefused(db, q, /./);
      }
    }
    // the dataspace declares more rows than PyTables wrote
    await assertRefused(
      db,
      patched('rows-23.h5', [{ from: dataspace(22n), to: dataspace(23n) }]),
      /declares 22 rows \(NROWS\) but holds 23/,
      'corrupt',
    );
    // both say 2^40 rows: far more than the file holds (nothing is read)
    await assertRefused(
      db,
      patched('rows-huge.h5', [
        { from: dataspace(22n), to: dataspace(1n << 40n) },
        { attr: 'NROWS', from: u64(22n), to: u64(1n << 40n) },
      ]),
      /do not fit in the \d+-byte file/,
      'corrupt',
    );
    // NROWS alone larger than the data
    await assertRefused(
      db,
      patched('nrows-attr.h5', [{ attr: 'NROWS', from: u64(22n), to: u64(1000n) }]),
      /declares 1000 rows \(NROWS\) but holds 22/,
      'corrupt',
    );
    // a declared dtype that does not match the stored field
    await assertRefused(
      db,
      patched('dtype-mismatch.h5', [
        { attr: 'values_block_1_dtype', from: ascii('int64'), to: ascii('int32') },
      ]),
      /declared int32 but stored as int64/,
      'corrupt',
    );
    // a damaged pickled attribute (the column labels of a field)
    await assertRefused(
      db,
      patched('kind-mismatch.h5', [
        { attr: 'model_kind', from: ascii('(lp0\nVmodel'), to: ascii('(lp0\nNmodel') },
      ]),
      /model_kind/,
    );
    assert.equal(await queryValue(db.connection, 'SELECT count(*) FROM models'), 0);
  } finally {
    db.close();
  }
});

test('a table column of a kind filterdb does not read (dates) is refused as unsupported', async () => {
  const db = await openDb(join(tmp, 'unsupported.duckdb'));
  try {
    // the int64 block relabelled as pandas writes a column of datetime.date values ("date", stored as ordinals)
    const p = patched('date-column.h5', [
      { attr: 'values_block_1_dtype', from: ascii('int64'), to: ascii('date\0') },
    ]);
    await assertRefused(db, p, /pandas dtype "date", which is not read/, 'unsupported');
  } finally {
    db.close();
  }
});
