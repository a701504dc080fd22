/**
 * Node-only: plans a selection and grouping (scan/selection.ts) over the layers stored in ClickHouse: the
 * small `<prefix>_layers`, `_models` and `_model_meta` tables are copied into an in-memory DuckDB database of
 * the filterdb schema, whose `layer_info` view then answers `--where` and `--by` exactly as a local database
 * does — one definition of every grouping, whichever engine scans the filters.
 */
import { rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { planSelection, type SelectionPlan } from '../scan/selection.js';
import { type FilterDb, openDb, queryRows } from '../store/db.js';
import { refreshViews } from '../store/schema.js';
import { type ClickHouseTarget, chRows, clickhouseClient } from './clickhouse.js';

/** An in-memory filterdb database holding the layers, models and metadata stored in ClickHouse. */
export async function clickhouseLayerDb(t: ClickHouseTarget): Promise<FilterDb> {
  const client = clickhouseClient(t);
  const where = `${t.url}/${t.database}`;
  const db = await openDb(':memory:');
  const file = join(tmpdir(), `filterdb-ch-${process.pid}-${Date.now()}.json`);
  try {
    const con = db.connection;
    for (const name of ['models', 'model_meta', 'layers']) {
      const local = await queryRows(
        con,
        `SELECT column_name, data_type FROM information_schema.columns WHERE table_name = '${name}' AND table_schema = 'main' ORDER BY ordinal_position`,
      );
      const remote = new Set(
        (await chRows(client, `DESCRIBE TABLE ${t.database}.${t.table}_${name}`, where)).map((r) =>
          String(r.name),
        ),
      );
      const cols = local.filter(
        (c) => remote.has(String(c.column_name)) && !String(c.data_type).startsWith('MAP('),
      );
      const rows = await chRows(
        client,
        `SELECT ${cols.map((c) => `\`${c.column_name}\``).join(', ')} FROM ${t.database}.${t.table}_${name}`,
        where,
      );
      if (rows.length === 0) continue;
      await writeFile(file, rows.map((r) => JSON.stringify(r)).join('\n'));
      // read as text where the export changed the type (booleans as 0/1, timestamps as strings), then cast
      const readType = (type: string) =>
        type === 'BOOLEAN' ? 'INTEGER' : type.startsWith('TIMESTAMP') ? 'VARCHAR' : type;
      const spec = cols.map((c) => `'${c.column_name}': '${readType(String(c.data_type))}'`).join(', ');
      await con.run(
        `INSERT INTO ${name} BY NAME SELECT ${cols.map((c) => `CAST("${c.column_name}" AS ${c.data_type}) AS "${c.column_name}"`).join(', ')}
         FROM read_json('${file}', format = 'newline_delimited', columns = {${spec}})`,
      );
    }
    await refreshViews(con);
    return db;
  } catch (e) {
    db.close();
    throw e;
  } finally {
    await rm(file, { force: true });
    await client.close();
  }
}

/** The plan of `--where` / `--by` over the layers stored in ClickHouse. */
export async function planOnClickHouse(
  t: ClickHouseTarget,
  options: { where?: string | null; by?: string | null },
): Promise<SelectionPlan> {
  return (await plansOnClickHouse(t, options.where ?? null, [options.by ?? null]))[0];
}

/** One plan per grouping of `--where` (`shift --by A --by B`), from one copy of the layers. */
export async function plansOnClickHouse(
  t: ClickHouseTarget,
  where: string | null | undefined,
  bys: (string | null)[],
): Promise<SelectionPlan[]> {
  const db = await clickhouseLayerDb(t);
  try {
    const plans: SelectionPlan[] = [];
    for (const by of bys) plans.push(await planSelection(db.connection, { where, by }));
    return plans;
  } finally {
    db.close();
  }
}
