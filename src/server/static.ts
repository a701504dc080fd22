/** Node-only: serving the built web app (dist/web) with no way out of its folder. */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { extname, resolve, sep } from 'node:path';
import { HttpError } from './http.js';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
  '.map': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
};

/**
 * Maps a URL path to a file under `root`. Refuses (400) encoded or literal `..` segments, backslashes, NUL and
 * anything that would resolve outside `root`; `/` serves `index.html`.
 */
export function staticPath(root: string, urlPath: string): string {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    throw new HttpError(400, 'bad-path', `malformed percent-encoding in ${JSON.stringify(urlPath)}`);
  }
  if (decoded.includes('\0') || decoded.includes('\\'))
    throw new HttpError(400, 'bad-path', `refused path ${JSON.stringify(decoded)}`);
  const segments = decoded.split('/');
  if (segments.some((s) => s === '..'))
    throw new HttpError(
      400,
      'path-traversal',
      `refused path ${JSON.stringify(decoded)}: ".." is not allowed`,
    );
  const rel = segments.filter((s) => s !== '' && s !== '.').join('/') || 'index.html';
  const base = resolve(root);
  const full = resolve(base, rel);
  if (full !== base && !full.startsWith(base + sep))
    throw new HttpError(
      400,
      'path-traversal',
      `refused path ${JSON.stringify(decoded)}: outside the web root`,
    );
  return full;
}

export async function serveStatic(
  root: string,
  urlPath: string,
  res: ServerResponse,
  head: boolean,
): Promise<void> {
  const file = staticPath(root, urlPath);
  let size: number;
  try {
    const st = await stat(file);
    if (!st.isFile()) throw new Error('not a file');
    size = st.size;
  } catch {
    if (urlPath === '/' || urlPath === '/index.html')
      throw new HttpError(
        404,
        'no-web-app',
        `the web app is not built (no ${file}); run \`npm run build\` first — the JSON API under /api/ works without it`,
      );
    throw new HttpError(404, 'not-found', `no such file ${JSON.stringify(urlPath)}`);
  }
  const type = TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream';
  res.writeHead(200, {
    'content-type': type,
    'content-length': size,
    'x-content-type-options': 'nosniff',
    // hashed asset names can be cached for good; the page itself must be revalidated
    'cache-control': /[\\/]assets[\\/]/.test(file) ? 'public, max-age=31536000, immutable' : 'no-cache',
  });
  if (head) {
    res.end();
    return;
  }
  await new Promise<void>((ok, fail) => {
    createReadStream(file).on('error', fail).on('end', ok).pipe(res);
  });
}
