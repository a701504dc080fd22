/** Test helper: a temp filter database built from the fixtures, served on a free loopback port. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type RunningServer, type ServerOptions, startServer } from '../../src/server/server.js';
import { openDb } from '../../src/store/db.js';
import { ingestPaths } from '../../src/store/ingest.js';
import { readMetaFile } from '../../src/store/meta.js';
import { dataPath } from './paths.js';

export interface FixtureServer extends RunningServer {
  dir: string;
  dbPath: string;
  stop(): Promise<void>;
}

/**
 * Builds zoo.duckdb from digits_cnn.onnx + digits_dwsep.onnx (+ `extraModels`, paths) + meta.csv and starts
 * the server on it.
 */
export async function fixtureServer(
  options: ServerOptions = {},
  extraModels: readonly string[] = [],
): Promise<FixtureServer> {
  const dir = mkdtempSync(join(tmpdir(), 'filterdb-web-'));
  const dbPath = join(dir, 'zoo.duckdb');
  const db = await openDb(dbPath);
  try {
    const models = [dataPath('digits_cnn.onnx'), dataPath('digits_dwsep.onnx'), ...extraModels];
    const summary = await ingestPaths(db, models, { meta: await readMetaFile(dataPath('meta.csv')) });
    if (summary.counts.added !== models.length)
      throw new Error(`fixture ingest: ${JSON.stringify(summary.results)}`);
  } finally {
    db.close();
  }
  const running = await startServer({ port: 0, host: '127.0.0.1', ...options, db: dbPath });
  return {
    ...running,
    dir,
    dbPath,
    async stop() {
      await running.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The server's JSON answer to GET `path`, or to POST `body` (with the write token). */
export async function apiJson(srv: RunningServer, path: string, body?: unknown): Promise<unknown> {
  const res = await fetch(new URL(path, srv.url), {
    method: body ? 'POST' : 'GET',
    headers: body ? { 'content-type': 'application/json', authorization: `Bearer ${srv.token}` } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  return res.json();
}
