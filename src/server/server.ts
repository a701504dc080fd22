/**
 * Node-only: the filterdb web server — the JSON API over a filter database (docs/API.md) and the built web
 * app (dist/web). Plain node:http: a dozen routes do not need a framework.
 *
 * Safety: binds 127.0.0.1 unless told otherwise; refuses requests whose Host header is not the server's own
 * name (DNS rebinding) and cross-origin writes (a web page elsewhere cannot POST here); the SQL endpoint
 * runs only single SELECT statements, with file access disabled in DuckDB, a row cap and a timeout.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { isFilterDbError } from '../errors.js';
import { type FilterDb, openDb } from '../store/db.js';
import { databaseCounts } from '../store/ingest.js';
import { compare } from './compare.js';
import { formatBytes, HttpError, readBody, readJson, sendError, sendJson } from './http.js';
import {
  getModel,
  layerFilters,
  layerInfoColumns,
  listModels,
  metaColumns,
  parseId,
  runSelect,
} from './queries.js';
import { serveStatic } from './static.js';
import { ingestUpload } from './upload.js';

export interface ServerOptions {
  /** Filter database file; without one only the drop-a-model page works. */
  db?: string;
  /** Open the database read-only (uploads refused; other processes may read it too). */
  readOnly?: boolean;
  port?: number;
  host?: string;
  /** Largest model upload in bytes (default 1 GiB). */
  maxUpload?: number;
  /** Most rows the SQL endpoint returns (default 10 000). */
  maxSqlRows?: number;
  /** SQL endpoint timeout (default 30 s). */
  sqlTimeoutMs?: number;
  /** Folder of the built web app (default dist/web beside this module). */
  webRoot?: string;
  /** Called once per request with method, path, status and milliseconds (logging). */
  onRequest?: (line: { method: string; path: string; status: number; ms: number }) => void;
}

export interface RunningServer {
  server: Server;
  url: string;
  db: FilterDb | null;
  close(): Promise<void>;
}

export const DEFAULT_WEB_ROOT = fileURLToPath(new URL('../../web/', import.meta.url));

const VERSION = '0.1.0';

export async function startServer(options: ServerOptions = {}): Promise<RunningServer> {
  const host = options.host ?? '127.0.0.1';
  const webRoot = options.webRoot ?? DEFAULT_WEB_ROOT;
  const maxUpload = options.maxUpload ?? 1 << 30;
  let db: FilterDb | null = null;
  if (options.db) {
    db = await openDb(options.db, { readOnly: options.readOnly ?? false });
    try {
      // user SQL (the SQL endpoint, compare "where" conditions) must not read or write files, attach other
      // databases or load extensions; locking the configuration stops a query from switching that back
      await db.connection.run('SET enable_external_access = false; SET lock_configuration = true');
    } catch (e) {
      db.close();
      throw e;
    }
  }
  const handler = makeHandler({ ...options, host, webRoot, maxUpload }, db);
  const server = createServer((req, res) => {
    const t0 = performance.now();
    res.on('finish', () =>
      options.onRequest?.({
        method: req.method ?? '',
        path: (req.url ?? '').split('?')[0],
        status: res.statusCode,
        ms: performance.now() - t0,
      }),
    );
    handler(req, res).catch((e: unknown) => {
      sendError(res, toHttpError(e));
    });
  });
  server.requestTimeout = 0; // big uploads may take a while; the body limit bounds them
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(options.port ?? 8080, host, () => {
      server.off('error', fail);
      ok();
    });
  });
  const address = server.address() as AddressInfo;
  const shown = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  return {
    server,
    url: `http://${shown}:${address.port}/`,
    db,
    async close() {
      await new Promise<void>((ok) => {
        server.close(() => ok());
        server.closeAllConnections();
      });
      db?.close();
    },
  };
}

function toHttpError(e: unknown): HttpError {
  if (e instanceof HttpError) return e;
  if (isFilterDbError(e)) {
    // The database's state, not the request, is at fault for these two.
    const status = e.code === 'locked' ? 409 : e.code === 'read-only' ? 403 : 422;
    return new HttpError(status, e.code, e.message);
  }
  const msg = e instanceof Error ? e.message : String(e);
  return new HttpError(500, 'internal', `internal error: ${msg.split('\n')[0]}`);
}

type Options = ServerOptions & { host: string; webRoot: string; maxUpload: number };

function makeHandler(o: Options, db: FilterDb | null) {
  const needDb = (): FilterDb => {
    if (!db)
      throw new HttpError(
        404,
        'no-database',
        'this server has no database (start it with `filterdb serve --db zoo.duckdb`); dropping a model file still works',
      );
    return db;
  };

  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const method = req.method ?? 'GET';
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname;
    checkHost(req, o);
    // URL parsing resolves "/a/../b"; judge the raw path, so a traversal attempt is refused, not rewritten
    const rawPath = (req.url ?? '/').split('?')[0];
    if (method !== 'GET' && method !== 'HEAD') checkOrigin(req);

    const allow = (...methods: string[]) => {
      if (!methods.includes(method))
        throw new HttpError(
          405,
          'method-not-allowed',
          `${method} is not allowed on ${path} (use ${methods.join(' or ')})`,
          {
            allow: methods.join(', '),
          },
        );
    };

    if (!path.startsWith('/api/') && path !== '/api') {
      allow('GET', 'HEAD');
      await serveStatic(o.webRoot, rawPath, res, method === 'HEAD');
      return;
    }

    const parts = path.split('/').filter(Boolean).slice(1); // after "api"
    const route = parts.join('/');

    if (route === 'info') {
      allow('GET');
      const base = {
        name: 'filterdb',
        version: VERSION,
        maxUpload: o.maxUpload,
        maxUploadText: formatBytes(o.maxUpload),
      };
      if (!db) return sendJson(res, 200, { ...base, db: null, readOnly: true });
      return sendJson(res, 200, {
        ...base,
        db: db.path,
        readOnly: db.readOnly,
        counts: await databaseCounts(db.connection),
        metaColumns: await metaColumns(db.connection),
        metaDistinct: Object.fromEntries(
          (
            await db.connection.runAndReadAll(
              'SELECT key, count(DISTINCT value)::INTEGER FROM model_meta GROUP BY key',
            )
          ).getRowsJS() as [string, number][],
        ),
        metaNumeric: Object.fromEntries(
          (
            await db.connection.runAndReadAll(
              'SELECT key, bool_and(value IS NULL OR TRY_CAST(value AS DOUBLE) IS NOT NULL) FROM model_meta GROUP BY key',
            )
          ).getRowsJS() as [string, boolean][],
        ),
        layerColumns: await layerInfoColumns(db.connection),
      });
    }

    if (parts[0] === 'models') {
      if (parts.length === 1) {
        allow('GET', 'POST');
        const d = needDb();
        if (method === 'GET') return sendJson(res, 200, { models: await listModels(d.connection) });
        if (d.readOnly)
          throw new HttpError(
            403,
            'read-only',
            'the server opened the database read-only; restart without --read-only to add models',
          );
        const body = await readBody(req, o.maxUpload);
        const type = String(req.headers['content-type'] ?? '');
        const bundle = url.searchParams.get('bundle') === '1' || /x-filterdb-bundle/.test(type);
        const answer = await ingestUpload(d, url.searchParams.get('name'), body, bundle);
        return sendJson(res, answer.status === 'added' ? 201 : 200, answer);
      }
      const id = parseId(parts[1], 'model');
      if (parts.length === 2) {
        allow('GET');
        return sendJson(res, 200, await getModel(needDb().connection, id));
      }
      if (parts.length === 5 && parts[2] === 'layers' && parts[4] === 'filters') {
        allow('GET');
        const index = parseId(parts[3], 'layer');
        const maxText = url.searchParams.get('max') ?? '1024';
        const max = Number(maxText);
        if (!Number.isInteger(max) || max < 1 || max > 65536)
          throw new HttpError(400, 'bad-request', `max must be 1..65536, not ${JSON.stringify(maxText)}`);
        return sendJson(res, 200, await layerFilters(needDb().connection, id, index, max));
      }
    }

    if (route === 'compare') {
      allow('POST');
      const d = needDb();
      const body = await readJson(req);
      const con = await d.instance.connect();
      try {
        return sendJson(res, 200, await compare(con, d.path, body));
      } finally {
        con.closeSync();
      }
    }

    if (route === 'sql') {
      allow('GET', 'POST');
      const d = needDb();
      const sql = method === 'GET' ? url.searchParams.get('q') : (await readJson(req)).sql;
      if (typeof sql !== 'string' || !sql.trim())
        throw new HttpError(
          400,
          'bad-request',
          'give the query: POST {"sql": "SELECT …"} or GET /api/sql?q=SELECT…',
        );
      return sendJson(res, 200, await runSelect(d, sql, o.maxSqlRows ?? 10_000, o.sqlTimeoutMs ?? 30_000));
    }

    throw new HttpError(404, 'not-found', `no API endpoint ${method} ${path} (see docs/API.md)`);
  };
}

/** Host header must name this server (stops DNS-rebinding pages from reading the API). */
function checkHost(req: IncomingMessage, o: Options): void {
  if (o.host === '0.0.0.0' || o.host === '::') return;
  const raw = String(req.headers.host ?? '');
  const hostname = raw
    .replace(/:\d+$/, '')
    .replace(/^\[(.*)\]$/, '$1')
    .toLowerCase();
  const allowed = new Set([
    'localhost',
    '127.0.0.1',
    '::1',
    o.host.toLowerCase().replace(/^\[(.*)\]$/, '$1'),
  ]);
  if (!allowed.has(hostname))
    throw new HttpError(
      403,
      'bad-host',
      `refused Host ${JSON.stringify(raw)}: this server answers to ${[...allowed].join(', ')}`,
    );
}

/** Writes only from the app itself: an Origin header, when sent, must match the Host. */
function checkOrigin(req: IncomingMessage): void {
  const origin = req.headers.origin;
  if (!origin || origin === 'null') {
    if (origin === 'null') throw new HttpError(403, 'cross-origin', 'cross-origin writes are refused');
    return;
  }
  let host: string;
  try {
    host = new URL(origin).host;
  } catch {
    throw new HttpError(403, 'cross-origin', `refused Origin ${JSON.stringify(origin)}`);
  }
  if (host !== req.headers.host)
    throw new HttpError(
      403,
      'cross-origin',
      `refused a write from ${origin}: only the app served here may change the database`,
    );
}
