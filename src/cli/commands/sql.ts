/** `filterdb sql --db zoo.duckdb "SELECT …"`: query a filter database (read-only unless --write). */
import type { Command } from 'commander';
import { isFilterDbError } from '../../errors.js';
import { mapDuckDbError, openDb } from '../../store/db.js';
import { streamQuery } from '../../store/query.js';
import { UsageError, writeOut } from '../context.js';
import { type Cell, fmtNumber, renderCsv, renderTable } from '../table.js';

interface SqlCliOptions {
  db: string;
  csv?: boolean;
  json?: boolean;
  write?: boolean;
  maxRows: string;
}

export function registerSql(program: Command): void {
  program
    .command('sql')
    .description(
      'run SQL on a filter database (tables: models, model_meta, layers, filters, filters_other; views: model_info, layer_info)',
    )
    .argument('<query>', 'SQL; several statements may be separated by ";" (the last one\'s rows are printed)')
    .requiredOption('--db <file>', 'DuckDB database file')
    .option('--csv', 'print CSV (all rows)')
    .option('--json', 'print a JSON array of row objects (all rows)')
    .option('--write', 'open the database for writing (default: read-only)')
    .option('--max-rows <n>', 'rows shown in the table output', '1000')
    .action(async (query: string, opts: SqlCliOptions) => {
      if (opts.csv && opts.json) throw new UsageError('choose one of --csv and --json');
      const maxRows = Number(opts.maxRows);
      if (!(Number.isInteger(maxRows) && maxRows >= 0))
        throw new UsageError(`--max-rows takes a count, not ${opts.maxRows}`);
      const db = await openDb(opts.db, { readOnly: !opts.write });
      try {
        let stream: Awaited<ReturnType<typeof streamQuery>>;
        try {
          stream = await streamQuery(db.connection, query);
        } catch (e) {
          throw sqlError(opts.db, e);
        }
        const { columns } = stream;
        if (opts.json) {
          await writeOut('[');
          let first = true;
          for await (const batch of stream.batches()) {
            const text = batch
              .map((r) => JSON.stringify(Object.fromEntries(columns.map((c, i) => [c, r[i]])), jsonReplacer))
              .join(',\n');
            if (text) {
              await writeOut((first ? '\n' : ',\n') + text);
              first = false;
            }
          }
          await writeOut(first ? ']\n' : '\n]\n');
        } else if (opts.csv) {
          await writeOut(renderCsv(columns, []));
          for await (const batch of stream.batches()) {
            const csv = renderCsv(
              columns,
              batch.map((r) => r.map(cell)),
            );
            await writeOut(csv.slice(csv.indexOf('\n') + 1));
          }
        } else {
          const rows: Cell[][] = [];
          let total = 0;
          for await (const batch of stream.batches()) {
            for (const r of batch) {
              if (rows.length < maxRows)
                rows.push(r.map((v) => (typeof v === 'number' ? fmtNumber(v, 6) : cell(v))));
              total++;
            }
          }
          const right =
            rows[0]?.map((_, i) => rows.every((r) => r[i] === null || /^-?[\d.e+-]+$/.test(String(r[i])))) ??
            [];
          const table = columns.length
            ? renderTable(
                columns.map((c, i) => ({ header: c, right: right[i] })),
                rows,
              )
            : '';
          const note =
            total > rows.length
              ? `\n(${total} rows, first ${rows.length} shown; use --csv or --json for all)`
              : `\n(${total} rows)`;
          await writeOut(`${table}${note}\n`);
        }
      } catch (e) {
        if (e instanceof UsageError || isFilterDbError(e)) throw e;
        throw sqlError(opts.db, e);
      } finally {
        db.close();
      }
    });
}

/** Lock problems name the database (exit 1); a bad query or a change without --write is bad usage (exit 2). */
function sqlError(db: string, e: unknown): Error {
  const msg = e instanceof Error ? e.message : String(e);
  // a change asked without --write is bad usage, with the fix in the message
  if (/read-only mode|in read-only/i.test(msg))
    return new UsageError(
      `the query changes the database, which sql opens read-only: add --write to allow changes (${db})`,
    );
  if (/read-only|lock/i.test(msg)) return mapDuckDbError(db, e);
  return new UsageError(`SQL error: ${msg.split('\n')[0]}`);
}

function cell(v: unknown): Cell {
  if (v === null || v === undefined) return null;
  if (typeof v === 'number' || typeof v === 'string') return v;
  return JSON.stringify(v, jsonReplacer);
}

function jsonReplacer(_key: string, v: unknown): unknown {
  return typeof v === 'number' && !Number.isFinite(v) ? String(v) : v;
}
