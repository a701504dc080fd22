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
    res.destroy();
    return;
  }
  for (const [k, v] of Object.entries(e.headers)) res.setHeader(k, v);
  sendJson(res, e.status, { error: { status: e.status, code: e.code, message: e.message } });
}

/**
 * Reads a request body of at most `limit` bytes. A declared Content-Length over the limit is refused before
 * anything is read (413); a body that grows past it while streaming is cut off (413).
 */
export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > limit) {
    throw tooLarge(Number(declared), limit);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw tooLarge(size, limit);
    chunks.push(chunk);
  }
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

/** Parses a JSON request body (≤ 1 MB) into an object. */
export async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const body = await readBody(req, 1 << 20);
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
