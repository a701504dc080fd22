/**
 * Node-only: the filterdb web server — the JSON API over a filter database (docs/API.md) and the built web
 * app (dist/web). Plain node:http: a dozen routes do not need a framework.
 *
 * Safety: binds 127.0.0.1 unless told otherwise; refuses requests whose Host header is not the server's own
 * name (DNS rebinding) and writes that carry neither a same-origin Origin header nor the server's token (a web
 * page elsewhere, or a stray script, cannot POST here); the SQL endpoint runs only single SELECT statements
 * that read no file, with file access disabled in DuckDB, a row and byte cap and a timeout.
 *
 * Deadlines: the headers must arrive within `headersTimeoutMs`, a body must keep arriving (http.ts
 * receiveBody), and the work has `timeoutMs` (503) — when it passes, or the client leaves, the request's
 * DuckDB queries are interrupted, its scans stopped and its upload analysis terminated.
 */

import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { DuckDBConnection } from '@duckdb/node-api';
import { isFilterDbError } from '../errors.js';
import { type FilterDb, openDb } from '../store/db.js';
import { databaseCounts } from '../store/ingest.js';
import { energyAnswer, modelAtlasAnswer, modelEnergyAnswer } from './atlas.js';
import { cohorts } from './cohorts.js';
import { compare } from './compare.js';
import { firstLayer } from './first-layer.js';
import {
  type BodyLimits,
  DEFAULT_BODY_LIMITS,
  formatBytes,
  HttpError,
  readJson,
  sendError,
  sendJson,
  toJson,
} from './http.js';
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
import { cleanStaleUploads, InFlightBytes, ingestUpload } from './upload.js';

export interface ServerOptions {
  /** Filter database file; without one only the drop-a-model page works. */
  db?: string;
  /** Open the database read-only (uploads refused; other processes may read it too). */
  readOnly?: boolean;
  port?: number;
  host?: string;
  /** Largest model upload in bytes (default 1 GiB). */
  maxUpload?: number;
  /** Bytes of upload bodies the server receives or holds at once, all requests together (default 2 × maxUpload). */
  maxUploadInFlight?: number;
  /** Most rows the SQL endpoint returns (default 10 000). */
  maxSqlRows?: number;
  /** Most bytes (about the JSON size) of rows the SQL endpoint returns (default 16 MiB). */
  maxSqlBytes?: number;
  /** SQL endpoint timeout (default 30 s). */
  sqlTimeoutMs?: number;
  /** Work deadline of every request once its body is in (default 300 s): 503 `timeout`. */
  timeoutMs?: number;
  /** Time to receive a request's headers (default 10 s). */
  headersTimeoutMs?: number;
  /** Time to receive a whole request, body included (default 30 min; a backstop to the body's own pace). */
  requestTimeoutMs?: number;
  /** How request bodies must keep arriving (default: no 10 s pause, 64 KiB/s on average after 10 s). */
  bodyPace?: Partial<Omit<BodyLimits, 'maxBytes'>>;
  /** Deadline of one upload's analysis in its worker (default 120 s): 422 `corrupt`. */
  analysisTimeoutMs?: number;
  /** Folder for upload temp directories (default the OS temp folder; stale ones are removed at start). */
  uploadDir?: string;
  /**
   * Token that authorises writes without a same-origin Origin header (scripts: `Authorization: Bearer
   * <token>`). Default: a random one, in {@link RunningServer.token}.
   */
  token?: string;
  /** Folder of the built web app (default dist/web beside this module). */
  webRoot?: string;
  /** Called once per request with method, path, status and milliseconds (logging). */
  onRequest?: (line: { method: string; path: string; status: number; ms: number }) => void;
}

export interface RunningServer {
  server: Server;
  url: string;
  db: FilterDb | null;
  /** The write token (see {@link ServerOptions.token}). */
  token: string;
  close(): Promise<void>;
}

export const DEFAULT_WEB_ROOT = fileURLToPath(new URL('../../web/', import.meta.url));

const VERSION = '0.1.0';

export async function startServer(options: ServerOptions = {}): Promise<RunningServer> {
  const host = options.host ?? '127.0.0.1';
  const webRoot = options.webRoot ?? DEFAULT_WEB_ROOT;
  const maxUpload = options.maxUpload ?? 1 << 30;
  const uploadDir = options.uploadDir ?? tmpdir();
  const token = options.token ?? randomBytes(24).toString('base64url');
  await cleanStaleUploads(uploadDir);
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
  const o: Options = {
    ...options,
    host,
    webRoot,
    maxUpload,
    uploadDir,
    token,
    timeoutMs: options.timeoutMs ?? 300_000,
    pace: { ...DEFAULT_BODY_LIMITS, ...options.bodyPace },
    inFlight: new InFlightBytes(options.maxUploadInFlight ?? 2 * maxUpload),
  };
  const handler = makeHandler(o, db);
  const headersTimeout = options.headersTimeoutMs ?? 10_000;
  const server = createServer(
    {
      // how often Node checks the header and request deadlines (its default, 30 s, would let a slow-loris
      // connection outlive headersTimeout by that much)
      connectionsCheckingInterval: Math.max(100, Math.min(1000, headersTimeout / 4)),
    },
    (req, res) => {
      const t0 = performance.now();
      res.on('finish', () =>
        options.onRequest?.({
          method: req.method ?? '',
          path: (req.url ?? '').split('?')[0],
          status: res.statusCode,
          ms: performance.now() - t0,
        }),
      );
      const ctx = new RequestContext(res, o.timeoutMs);
      Promise.race([handler(req, res, ctx), ctx.aborted])
        .catch((e: unknown) => sendError(res, toHttpError(e)))
        .finally(() => ctx.done());
    },
  );
  server.headersTimeout = headersTimeout;
  server.requestTimeout = options.requestTimeoutMs ?? 30 * 60_000;
  server.keepAliveTimeout = 5_000;
  // Node's own 400/408/431 answers are plain text: give them the API's error JSON
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    const answered = (socket as Socket & { _httpMessage?: ServerResponse })._httpMessage?.headersSent;
    if (!socket.writable || answered) {
      socket.destroy();
      return;
    }
    const timeout = err.code === 'ERR_HTTP_REQUEST_TIMEOUT';
    const large = err.code === 'HPE_HEADER_OVERFLOW';
    const [status, reason] = timeout
      ? [408, 'Request Timeout']
      : large
        ? [431, 'Request Header Fields Too Large']
        : [400, 'Bad Request'];
    const message = timeout
      ? `the request did not arrive in time (headers within ${headersTimeout / 1000} s, the whole request within ${server.requestTimeout / 1000} s)`
      : large
        ? 'the request headers are too large'
        : `malformed HTTP request (${err.code ?? err.message})`;
    const body = toJson({ error: { status, code: timeout ? 'timeout' : 'bad-request', message } });
    socket.end(
      `HTTP/1.1 ${status} ${reason}\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
    );
  });
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
    token,
    async close() {
      await new Promise<void>((ok) => {
        server.close(() => ok());
        server.closeAllConnections();
      });
      db?.close();
    },
  };
}

/**
 * One request's deadline and cancellation: `signal` aborts when the work deadline passes (503 `timeout`) or
 * the client goes away before the answer is sent; `aborted` rejects then, so the answer does not wait for
 * the work to notice.
 */
class RequestContext {
  private readonly controller = new AbortController();
  readonly signal = this.controller.signal;
  readonly aborted: Promise<never>;
  private timer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    res: ServerResponse,
    private readonly timeoutMs: number,
  ) {
    this.aborted = new Promise<never>((_, reject) => {
      this.signal.addEventListener('abort', () => reject(this.signal.reason), { once: true });
    });
    this.aborted.catch(() => {});
    res.on('close', () => {
      if (!res.writableFinished)
        this.controller.abort(new HttpError(499, 'client-gone', 'the client closed the connection'));
      this.done();
    });
    this.startWork();
  }

  /** (Re)starts the work deadline: at the start, and again once a request's body is in. */
  startWork(): void {
    this.pause();
    this.timer = setTimeout(
      () =>
        this.controller.abort(
          new HttpError(
            503,
            'timeout',
            `the request took longer than the server's ${this.timeoutMs / 1000} s limit and was stopped`,
          ),
        ),
      this.timeoutMs,
    );
  }

  /** No work deadline while a long body arrives (its pace is guarded instead). */
  pause(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  done(): void {
    this.pause();
  }
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

type Options = ServerOptions & {
  host: string;
  webRoot: string;
  maxUpload: number;
  uploadDir: string;
  token: string;
  timeoutMs: number;
  pace: Omit<BodyLimits, 'maxBytes'>;
  inFlight: InFlightBytes;
};

/** Runs `fn` on a connection of its own that the request's abort interrupts (a query stops mid-way). */
async function withConnection<T>(
  db: FilterDb,
  signal: AbortSignal,
  fn: (con: DuckDBConnection) => Promise<T>,
): Promise<T> {
  signal.throwIfAborted();
  const con = await db.instance.connect();
  const stop = () => con.interrupt();
  signal.addEventListener('abort', stop);
  try {
    return await fn(con);
  } finally {
    signal.removeEventListener('abort', stop);
    con.closeSync();
  }
}

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

  return async (req: IncomingMessage, res: ServerResponse, ctx: RequestContext): Promise<void> => {
    const method = req.method ?? 'GET';
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname;
    const signal = ctx.signal;
    checkHost(req, o);
    // URL parsing resolves "/a/../b"; judge the raw path, so a traversal attempt is refused, not rewritten
    const rawPath = (req.url ?? '/').split('?')[0];
    if (method !== 'GET' && method !== 'HEAD') checkWriter(req, o.token);

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
    const json = async () => {
      const body = await readJson(req, o.pace, signal);
      ctx.startWork();
      return body;
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
      const d = db;
      return sendJson(
        res,
        200,
        await withConnection(d, signal, async (con) => ({
          ...base,
          db: d.path,
          readOnly: d.readOnly,
          counts: await databaseCounts(con),
          metaColumns: await metaColumns(con),
          metaDistinct: Object.fromEntries(
            (
              await con.runAndReadAll(
                'SELECT key, count(DISTINCT value)::INTEGER FROM model_meta GROUP BY key',
              )
            ).getRowsJS() as [string, number][],
          ),
          metaNumeric: Object.fromEntries(
            (
              await con.runAndReadAll(
                'SELECT key, bool_and(value IS NULL OR TRY_CAST(value AS DOUBLE) IS NOT NULL) FROM model_meta GROUP BY key',
              )
            ).getRowsJS() as [string, boolean][],
          ),
          layerColumns: await layerInfoColumns(con),
        })),
      );
    }

    if (parts[0] === 'models') {
      if (parts.length === 1) {
        allow('GET', 'POST');
        const d = needDb();
        if (method === 'GET')
          return sendJson(res, 200, { models: await withConnection(d, signal, listModels) });
        if (d.readOnly)
          throw new HttpError(
            403,
            'read-only',
            'the server opened the database read-only; restart without --read-only to add models',
          );
        const type = String(req.headers['content-type'] ?? '');
        const bundle = url.searchParams.get('bundle') === '1' || /x-filterdb-bundle/.test(type);
        ctx.pause(); // the body's pace is guarded while it arrives; the work deadline starts after it
        const answer = await ingestUpload(d, req, url.searchParams.get('name'), bundle, {
          body: { ...o.pace, maxBytes: o.maxUpload },
          inFlight: o.inFlight,
          root: o.uploadDir,
          analysisTimeoutMs: o.analysisTimeoutMs ?? 120_000,
          signal,
          onBodyReceived: () => ctx.startWork(),
        });
        return sendJson(res, answer.status === 'added' ? 201 : 200, answer);
      }
      const id = parseId(parts[1], 'model');
      if (parts.length === 2) {
        allow('GET');
        return sendJson(res, 200, await withConnection(needDb(), signal, (con) => getModel(con, id)));
      }
      if (parts.length === 3 && (parts[2] === 'atlas' || parts[2] === 'energy')) {
        allow('GET');
        const answer = (con: DuckDBConnection): Promise<unknown> =>
          parts[2] === 'atlas' ? modelAtlasAnswer(con, id) : modelEnergyAnswer(con, id);
        return sendJson(res, 200, await withConnection(needDb(), signal, answer));
      }
      if (parts.length === 3 && parts[2] === 'first-layer') {
        allow('GET');
        return sendJson(res, 200, await withConnection(needDb(), signal, (con) => firstLayer(con, id)));
      }
      if (parts.length === 5 && parts[2] === 'layers' && parts[4] === 'filters') {
        allow('GET');
        const index = parseId(parts[3], 'layer');
        const maxText = url.searchParams.get('max') ?? '1024';
        const max = Number(maxText);
        if (!Number.isInteger(max) || max < 1 || max > 65536)
          throw new HttpError(400, 'bad-request', `max must be 1..65536, not ${JSON.stringify(maxText)}`);
        return sendJson(
          res,
          200,
          await withConnection(needDb(), signal, (con) => layerFilters(con, id, index, max)),
        );
      }
    }

    if (route === 'energy') {
      allow('GET');
      return sendJson(res, 200, await withConnection(needDb(), signal, energyAnswer));
    }

    if (route === 'compare') {
      allow('POST');
      const d = needDb();
      const body = await json();
      return sendJson(res, 200, await withConnection(d, signal, (con) => compare(con, d.path, body, signal)));
    }

    if (route === 'cohorts') {
      allow('POST');
      const d = needDb();
      const body = await json();
      return sendJson(res, 200, await withConnection(d, signal, (con) => cohorts(con, d.path, body, signal)));
    }

    if (route === 'sql') {
      allow('GET', 'POST');
      const d = needDb();
      const sql = method === 'GET' ? url.searchParams.get('q') : (await json()).sql;
      if (typeof sql !== 'string' || !sql.trim())
        throw new HttpError(
          400,
          'bad-request',
          'give the query: POST {"sql": "SELECT …"} or GET /api/sql?q=SELECT…',
        );
      return sendJson(
        res,
        200,
        await runSelect(
          d,
          sql,
          {
            maxRows: o.maxSqlRows ?? 10_000,
            maxBytes: o.maxSqlBytes ?? 16 << 20,
            timeoutMs: o.sqlTimeoutMs ?? 30_000,
          },
          signal,
        ),
      );
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

/**
 * A write must come from the app itself (browsers send Origin on every POST: it must name this server) or
 * carry the server's token (`Authorization: Bearer <token>`, for scripts). No Origin and no token → 403, so a
 * request forged by anything that can reach the port without a browser's Origin is refused too.
 */
function checkWriter(req: IncomingMessage, token: string): void {
  const auth = /^Bearer\s+(\S+)$/i.exec(String(req.headers.authorization ?? ''))?.[1];
  if (auth !== undefined) {
    const given = Buffer.from(auth);
    const expected = Buffer.from(token);
    if (given.length === expected.length && timingSafeEqual(given, expected)) return;
    throw new HttpError(403, 'bad-token', 'refused a write: the Authorization token is not this server’s');
  }
  const origin = req.headers.origin;
  if (!origin)
    throw new HttpError(
      403,
      'cross-origin',
      'refused a write with no Origin header: send it from the app, or authorise with `Authorization: Bearer <token>` (printed by `filterdb serve`)',
    );
  let host: string | null = null;
  try {
    host = origin === 'null' ? null : new URL(origin).host;
  } catch {
    host = null;
  }
  if (host === null || host !== req.headers.host)
    throw new HttpError(
      403,
      'cross-origin',
      `refused a write from ${origin}: only the app served here (or a client with the server's token) may change the database`,
    );
}
