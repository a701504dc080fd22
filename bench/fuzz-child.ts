/**
 * One fuzz worker process (spawned by bench/fuzz.ts): receives inputs over IPC, writes each into its own
 * scratch folder, runs what the CLI runs on it (read + every metric of every conv layer; dataset.h5:
 * import-h5 into a scratch database) and answers with the outcome. The parent enforces the deadline and the
 * memory cap by killing this process.
 */
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { isFilterDbError } from '../src/errors.js';
import { readModel } from '../src/formats/detect.js';
import { qualityReport } from '../src/metrics/layer-report.js';
import { openModelInput } from '../src/node/file-source.js';
import { type FilterDb, openDb } from '../src/store/db.js';
import { importDatasetH5 } from '../src/store/import-h5.js';

export interface FuzzJob {
  id: number;
  format: string;
  /** The seed's files (absolute paths); `main` is opened, `mutated` (one of them) is replaced by `bytes`. */
  files: string[];
  main: string;
  mutated: string;
  bytes: Uint8Array;
}

export interface FuzzAnswer {
  id: number;
  outcome: 'ok' | 'typed' | 'untyped';
  detail: string;
}

const scratch = mkdtempSync(join(tmpdir(), 'filterdb-fuzz-'));
let db: FilterDb | null = null;
process.on('exit', () => rmSync(scratch, { recursive: true, force: true }));

async function runJob(job: FuzzJob): Promise<FuzzAnswer> {
  const dir = join(scratch, `job${job.id % 2}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir);
  for (const f of job.files) {
    if (f === job.mutated) writeFileSync(join(dir, basename(f)), job.bytes);
    else copyFileSync(f, join(dir, basename(f)));
  }
  const main = join(dir, basename(job.main));
  try {
    if (job.format === 'dataset-h5') {
      // one scratch database per child (opening one costs more than most imports); imports are transactional
      db ??= await openDb(join(scratch, 'fuzz.duckdb'));
      await importDatasetH5(db, main);
    } else {
      const input = await openModelInput(main);
      try {
        await qualityReport(await readModel(input));
      } finally {
        await input.close?.();
      }
    }
    return { id: job.id, outcome: 'ok', detail: '' };
  } catch (e) {
    if (isFilterDbError(e)) return { id: job.id, outcome: 'typed', detail: `${e.code}: ${e.message}` };
    return { id: job.id, outcome: 'untyped', detail: String((e as Error)?.stack ?? e).slice(0, 2000) };
  }
}

process.on('message', async (job: FuzzJob) => {
  const answer = await runJob({ ...job, bytes: new Uint8Array(job.bytes) });
  process.send?.(answer);
});
process.send?.({ id: -1, outcome: 'ok', detail: 'ready' });
