/**
 * Node-only: the self-contained HTML reports the web app links to — `GET /api/models/:id/report.html`
 * (`filterdb report <file>` of a stored model, written from its file when that is still on the server's disk
 * with the bytes that were ingested) and `GET /api/report.html` (`filterdb report --db` of the database) — and
 * `GET /api/models?hash=` (which stored models have these bytes: the app says "already in the database"
 * before an upload).
 */

import type { ServerResponse } from 'node:http';
import type { DuckDBConnection } from '@duckdb/node-api';
import { readModel } from '../formats/detect.js';
import { openModelInput } from '../node/file-source.js';
import { modelReportHtml } from '../report/model-report.js';
import { planZooReport, zooReportFromPlan } from '../scan/zoo-db-report.js';
import { queryRows } from '../store/db.js';
import { discoverModels, hashModel } from '../store/walk.js';
import { HttpError } from './http.js';
import { serial } from './serial.js';

/** Stored models whose content hash is `hash` ("sha256:<hex>", as ingest computes it). */
export async function modelsWithHash(
  con: DuckDBConnection,
  hash: string,
): Promise<{ id: number; name: string }[]> {
  if (!/^sha256:[0-9a-f]{64}$/.test(hash))
    throw new HttpError(
      400,
      'bad-request',
      `hash must be "sha256:" and 64 hex digits, not ${JSON.stringify(hash)}`,
    );
  const rows = await queryRows(
    con,
    'SELECT model_id, name FROM models WHERE content_hash = $1 ORDER BY model_id',
    [hash],
  );
  return rows.map((r) => ({ id: Number(r.model_id), name: String(r.name) }));
}

/** The report of stored model `id`, from its file (404 when the file is gone, 409 when its bytes changed). */
export async function storedModelReport(
  con: DuckDBConnection,
  id: number,
): Promise<{ name: string; html: string }> {
  const rows = await queryRows(con, 'SELECT name, file, content_hash FROM models WHERE model_id = $1', [id]);
  if (rows.length === 0) throw new HttpError(404, 'unknown-model', `no model with id ${id} in the database`);
  const name = String(rows[0].name);
  const file = String(rows[0].file);
  const gone = new HttpError(
    404,
    'report-unavailable',
    `the report of ${name} is written from its model file, which is not on the server's disk (${file.startsWith('upload:') ? 'uploaded models are analysed and their file removed' : 'moved or deleted since it was ingested'}); drop the file on the Analyse page and download its report there`,
  );
  if (file.startsWith('upload:')) throw gone;
  const found = await discoverModels([file]).catch(() => null);
  const candidate = found?.candidates[0];
  if (!candidate) throw gone;
  if ((await hashModel(candidate)) !== String(rows[0].content_hash))
    throw new HttpError(
      409,
      'model-changed',
      `the file of ${name} (${file}) has changed since it was ingested, so its report would not describe the stored model; ingest it again`,
    );
  const model = await readModel(await openModelInput(file));
  // titled by the file's name, not its path on the server's disk
  model.source = file.split(/[\\/]/).pop() || name;
  return { name, html: await modelReportHtml(model) };
}

/** The zoo report of the database at `dbPath`: planned on `con`, scanned one job at a time with the others. */
export async function databaseReport(
  con: DuckDBConnection,
  dbPath: string,
  signal: AbortSignal,
): Promise<string> {
  const plan = await planZooReport(con);
  if (plan.plans.length === 0 || plan.plans[0].filterCount < 2)
    throw new HttpError(
      404,
      'report-unavailable',
      'the database holds fewer than 2 3×3 filters: there is nothing to report',
    );
  return serial(async () => {
    signal.throwIfAborted();
    return (await zooReportFromPlan(dbPath, plan, { signal })).html;
  });
}

/** Sends an HTML report as a download named `file`. */
export function sendReport(res: ServerResponse, file: string, html: string): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(200, {
    'content-type': 'text/html; charset=utf-8',
    'content-length': Buffer.byteLength(html),
    'content-disposition': `attachment; filename="${file.replace(/[^\w.-]+/g, '_')}"`,
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
  });
  res.end(html);
}
