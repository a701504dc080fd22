/**
 * Node-only: `POST /api/models` — a model file (or a zip bundle of a multi-file model such as TF.js
 * model.json + shards) is written to a fresh temp directory, ingested through src/store/ingest.ts, and the
 * directory removed. One upload is ingested at a time (DuckDB has one writer).
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { unzipSync } from 'fflate';
import { safeRelativePath } from '../formats/io/source.js';
import type { FilterDb } from '../store/db.js';
import { ingestPaths, type ModelResult } from '../store/ingest.js';
import { HttpError } from './http.js';
import { serial } from './serial.js';

/** A file name as the client sent it, reduced to something safe to write (no folders, no control chars). */
export function safeFileName(name: string | null): string {
  const base = (name ?? '').split(/[\\/]/).pop() ?? '';
  const clean = base.replace(/[\x00-\x1f\x7f]/g, '').trim();
  if (!clean || clean === '.' || clean === '..' || clean.length > 255)
    throw new HttpError(400, 'bad-name', 'give the model file name: POST /api/models?name=<file name>');
  return clean;
}

export interface UploadAnswer {
  status: ModelResult['status'];
  modelId: number | null;
  name: string;
  layers?: number;
  filters?: number;
  duplicateOf?: string;
  message: string;
}

/**
 * Ingests uploaded bytes. `bundle`: the body is a zip of the model's files and `name` is the main file in it
 * (TF.js model.json, an index.json, an .onnx with external data).
 */
export async function ingestUpload(
  db: FilterDb,
  nameParam: string | null,
  body: Buffer,
  bundle: boolean,
): Promise<UploadAnswer> {
  const name = safeFileName(nameParam);
  if (body.length === 0)
    throw new HttpError(400, 'empty-body', 'the request body is empty (send the model file bytes)');
  return serial(async () => {
    const dir = await mkdtemp(join(tmpdir(), 'filterdb-upload-'));
    try {
      const main = join(dir, name);
      if (bundle) {
        let entries: Record<string, Uint8Array>;
        let declared = 0;
        try {
          entries = unzipSync(new Uint8Array(body.buffer, body.byteOffset, body.length), {
            filter: (f) => {
              declared += f.originalSize;
              if (declared > body.length * 4 + (64 << 20))
                throw new HttpError(413, 'too-large', 'the bundle unpacks to too many bytes');
              return !f.name.endsWith('/');
            },
          });
        } catch (e) {
          if (e instanceof HttpError) throw e;
          throw new HttpError(400, 'bad-bundle', `the bundle is not a readable zip: ${(e as Error).message}`);
        }
        if (!(name in entries))
          throw new HttpError(400, 'bad-bundle', `the bundle has no file ${JSON.stringify(name)}`);
        for (const [entry, bytes] of Object.entries(entries)) {
          let rel: string;
          try {
            rel = safeRelativePath('bundle', entry);
          } catch (e) {
            throw new HttpError(400, 'path-traversal', (e as Error).message);
          }
          const path = join(dir, rel);
          await mkdir(dirname(path), { recursive: true });
          await writeFile(path, bytes);
        }
      } else {
        await writeFile(main, body);
      }
      const summary = await ingestPaths(db, [main], { spectral: true });
      const r = summary.results.find((x) => x.file === main) ?? summary.results[0];
      if (!r) throw new HttpError(422, 'not-a-model', `${name}: no model found`);
      if (r.status === 'failed')
        throw new HttpError(
          422,
          'not-a-model',
          (r.error ?? `${name}: cannot read`).replaceAll(dir + '/', ''),
        );
      if ((r.status === 'added' || r.status === 'replaced') && r.modelId !== undefined) {
        // the temp file is gone after this request: record where the model came from instead
        await db.connection.run('UPDATE models SET file = $1 WHERE model_id = $2', [
          `upload:${name}`,
          r.modelId,
        ]);
      }
      let modelId = r.modelId ?? null;
      if (r.status === 'duplicate' && r.duplicateOf) {
        const row = await db.connection.runAndReadAll('SELECT model_id FROM models WHERE file = $1', [
          r.duplicateOf,
        ]);
        const rows = row.getRowsJS();
        if (rows.length) modelId = Number(rows[0][0]);
      }
      const message =
        r.status === 'duplicate'
          ? `${name} is already in the database (same bytes as ${String(r.duplicateOf).replace(/^upload:/, '')})`
          : `${name}: ${r.status}, ${r.layers ?? 0} conv layers, ${r.filters ?? 0} filters stored`;
      return {
        status: r.status,
        modelId,
        name: r.name,
        layers: r.layers,
        filters: r.filters,
        duplicateOf: r.duplicateOf,
        message,
      };
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
}
