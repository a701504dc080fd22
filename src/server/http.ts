/** Node-only: small HTTP helpers for the filterdb server (JSON answers, errors, bounded bodies). */
import type { IncomingMessage, ServerResponse } from 'node:http';

/** An error that becomes a 4xx/5xx JSON answer `{ error: { status, code, message } }`. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/** JSON.stringify that writes non-finite numbers as null and typed arrays as plain arrays. */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_k, v) => {
    if (typeof v === 'number' && !Number.isFinite(v)) return null;
    if (typeof v === 'bigint') return Number(v);
    if (ArrayBuffer.isView(v) && !(v instanceof DataView))
      return Array.from(v as unknown as ArrayLike<number>);
    return v;
  });
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent || res.destroyed) return; // answered already (a deadline) or the client left
  const text = toJson(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
  });
  res.end(text);
}

export function sendError(res: ServerResponse, e: HttpError): void {
  if (res.headersSent) {
    if (!res.writableEnded) res.destroy();
    return;
  }
  if (res.destroyed) return;
  for (const [k, v] of Object.entries(e.headers)) res.setHeader(k, v);
  sendJson(res, e.status, { error: { status: e.status, code: e.code, message: e.message } });
}

/** How a request body must arrive: at most `maxBytes`, never `idleMs` without a byte, and on average at least
 * `minBytesPerSecond` once `graceMs` have passed (a slow-loris body is cut off after about `graceMs`). */
export interface BodyLimits {
  maxBytes: number;
  idleMs: number;
  graceMs: number;
  minBytesPerSecond: number;
}

export const DEFAULT_BODY_LIMITS: Omit<BodyLimits, 'maxBytes'> = {
  idleMs: 10_000,
  graceMs: 10_000,
  minBytesPerSecond: 64 << 10,
};

/**
 * Streams a request body into `sink` chunk by chunk (the request is paused while a sink promise is pending,
 * so a slow disk never lets chunks pile up in memory). A declared Content-Length over the limit is refused
 * before anything is read (413), a body that grows past it while streaming is cut off (413), one that stalls
 * or trickles is cut off (408), and `signal` (the request's deadline or the client leaving) stops it.
 * Every error asks for the connection to be closed: the rest of the body is never read. Resolves to the
 * number of bytes received.
 */
export function receiveBody(
  req: IncomingMessage,
  limits: BodyLimits,
  sink: (chunk: Buffer) => void | Promise<void>,
  signal?: AbortSignal,
): Promise<number> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > limits.maxBytes)
    return Promise.reject(tooLarge(Number(declared), limits.maxBytes));
  return new Promise((resolve, reject) => {
    const start = Date.now();
    let last = start;
    let received = 0;
    let done = false;
    let writing: Promise<void> = Promise.resolve();
    const finish = (error?: unknown) => {
      if (done) return;
      done = true;
      clearInterval(timer);
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('aborted', onError);
      signal?.removeEventListener('abort', onAbort);
      if (error === undefined) resolve(received);
      else {
        req.pause();
        reject(error);
      }
    };
    const check = () => {
      const now = Date.now();
      const seconds = ((now - start) / 1000).toFixed(0);
      if (now - last > limits.idleMs)
        finish(
          new HttpError(
            408,
            'timeout',
            `the request body stalled: no byte for ${limits.idleMs / 1000} s (${formatBytes(received)} received)`,
            { connection: 'close' },
          ),
        );
      else if (now - start > limits.graceMs + (received / limits.minBytesPerSecond) * 1000)
        finish(
          new HttpError(
            408,
            'timeout',
            `the request body arrives too slowly: ${formatBytes(received)} in ${seconds} s (at least ${formatBytes(limits.minBytesPerSecond)}/s after the first ${limits.graceMs / 1000} s)`,
            { connection: 'close' },
          ),
        );
    };
    const timer = setInterval(check, Math.max(50, Math.min(1000, limits.idleMs / 4, limits.graceMs / 4)));
    const onData = (chunk: Buffer) => {
      received += chunk.length;
      last = Date.now();
      if (received > limits.maxBytes) return finish(tooLarge(received, limits.maxBytes));
      let result: void | Promise<void>;
      try {
        result = sink(chunk);
      } catch (e) {
        return finish(e);
      }
      if (result) {
        req.pause();
        // the request stays paused until this write settles, so there is one at a time; its error is
        // reported through finish below
        writing = result.then(
          () => {},
          () => {},
        );
        result.then(
          () => {
            last = Date.now();
            if (!done) req.resume();
          },
          (e: unknown) => finish(e),
        );
      }
    };
    const onEnd = () => {
      writing.then(
        () => finish(),
        (e: unknown) => finish(e),
      );
    };
    const onError = () =>
      finish(new HttpError(400, 'aborted', 'the client closed the connection before the body was sent'));
    const onAbort = () => finish(signal!.reason);
    if (signal?.aborted) return finish(signal.reason);
    signal?.addEventListener('abort', onAbort);
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('aborted', onError);
  });
}

/** Reads a whole request body of at most `limits.maxBytes` into memory (for small JSON bodies). */
export async function readBody(
  req: IncomingMessage,
  limits: BodyLimits,
  signal?: AbortSignal,
): Promise<Buffer> {
  const chunks: Buffer[] = [];
  const size = await receiveBody(req, limits, (c) => void chunks.push(c), signal);
  return Buffer.concat(chunks, size);
}

function tooLarge(size: number, limit: number): HttpError {
  return new HttpError(
    413,
    'too-large',
    `request body of ${formatBytes(size)}${size > limit ? '' : '+'} exceeds the limit of ${formatBytes(limit)}`,
    { connection: 'close' },
  );
}

/** Largest JSON request body (compare and SQL requests). */
export const MAX_JSON_BODY = 1 << 20;

/** Parses a JSON request body (≤ 1 MiB) into an object. */
export async function readJson(
  req: IncomingMessage,
  limits: Omit<BodyLimits, 'maxBytes'> = DEFAULT_BODY_LIMITS,
  signal?: AbortSignal,
): Promise<Record<string, unknown>> {
  const body = await readBody(req, { ...limits, maxBytes: MAX_JSON_BODY }, signal);
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8') || '{}');
  } catch (e) {
    throw new HttpError(400, 'bad-json', `request body is not valid JSON: ${(e as Error).message}`);
  }
  if (!value || typeof value !== 'object' || Array.isArray(value))
    throw new HttpError(400, 'bad-json', 'request body must be a JSON object');
  return value as Record<string, unknown>;
}

export function formatBytes(n: number): string {
  if (n >= 1 << 30) return `${(n / (1 << 30)).toFixed(1)} GiB`;
  if (n >= 1 << 20) return `${(n / (1 << 20)).toFixed(1)} MiB`;
  if (n >= 1 << 10) return `${(n / (1 << 10)).toFixed(1)} KiB`;
  return `${n} B`;
}

/** Parses a size such as "512MB", "2GiB", "1000000" into bytes (null when malformed). */
export function parseSize(text: string): number | null {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmg]i?b?)?\s*$/i.exec(text);
  if (!m) return null;
  const unit = (m[2] ?? '').toLowerCase()[0];
  const mult = unit === 'k' ? 1024 : unit === 'm' ? 1024 ** 2 : unit === 'g' ? 1024 ** 3 : 1;
  return Math.round(Number(m[1]) * mult);
}
