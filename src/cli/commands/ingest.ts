/** `filterdb ingest <files|dirs…> --db zoo.duckdb [--meta meta.csv]`: add models to the filter database. */
import type { Command } from 'commander';
import { INIT_RULES, type InitRule } from '../../metrics/init-distance.js';
import { openDb } from '../../store/db.js';
import { databaseCounts, type IngestSummary, ingestPaths, type KernelSelection } from '../../store/ingest.js';
import { type MetaReport, readMetaFile } from '../../store/meta.js';
import { UsageError, writeNote, writeOut } from '../context.js';
import { progressBar } from '../progress.js';

interface IngestCliOptions {
  db: string;
  meta?: string;
  kernel: string;
  transposed?: boolean;
  sparsityEps: string;
  workers?: string;
  json?: boolean;
  spectral?: boolean;
  init?: boolean;
  initRule?: string;
}

export function registerIngest(program: Command): void {
  program
    .command('ingest')
    .description(
      'add model files (recursively from directories) to a filter database: layer metrics, flags and filters, one transaction per model',
    )
    .argument('[paths...]', 'model files or directories (none: only apply --meta)')
    .requiredOption('--db <file>', 'DuckDB database file (created if missing)')
    .option('--meta <file>', 'metadata CSV or JSON joined by model name (column "model", or "file")')
    .option('--kernel <which>', 'whose filters to store: 3x3, or all 2-D kernel sizes', '3x3')
    .option('--transposed', 'also store the filters of transposed convolutions')
    .option('--sparsity-eps <E>', "sparsity threshold as a fraction of the layer's max |w|", '0.01')
    .option(
      '--workers <n>',
      'worker threads for the layer metrics (0: none; default: up to 4 when there is enough to measure)',
    )
    .option('--no-spectral', 'do not compute the WeightWatcher-style spectral metrics (faster on big models)')
    .option('--init', "also store the distance from random initialisation (rule by the file's format)")
    .option(
      '--init-rule <rule>',
      `initialisation rule for --init: ${INIT_RULES.join(' or ')} (implies --init)`,
    )
    .option('--json', 'print the ingest summary as JSON on stdout')
    .action(async (paths: string[], opts: IngestCliOptions) => {
      if (opts.initRule !== undefined && !INIT_RULES.includes(opts.initRule as InitRule))
        throw new UsageError(`--init-rule must be one of ${INIT_RULES.join(', ')}, got ${opts.initRule}`);
      if (opts.kernel !== '3x3' && opts.kernel !== 'all')
        throw new UsageError(`--kernel takes 3x3 or all, not ${opts.kernel}`);
      const sparsityEps = Number(opts.sparsityEps);
      if (!(sparsityEps >= 0 && sparsityEps < 1))
        throw new UsageError(`--sparsity-eps must be in [0, 1), got ${opts.sparsityEps}`);
      const workers = opts.workers === undefined ? undefined : Number(opts.workers);
      if (workers !== undefined && !(Number.isInteger(workers) && workers >= 0 && workers <= 64))
        throw new UsageError(`--workers takes a whole number from 0 to 64, got ${opts.workers}`);
      if (paths.length === 0 && !opts.meta)
        throw new UsageError('give model files or directories, or --meta');
      const meta = opts.meta ? await readMetaFile(opts.meta) : undefined;
      const db = await openDb(opts.db);
      let bar: ReturnType<typeof progressBar> | null = null;
      let summary: IngestSummary;
      try {
        summary = await ingestPaths(db, paths, {
          kernel: opts.kernel as KernelSelection,
          includeTransposed: opts.transposed,
          sparsityEps,
          workers,
          meta,
          spectral: opts.spectral !== false,
          init:
            opts.init || opts.initRule !== undefined
              ? { rule: (opts.initRule as InitRule | undefined) ?? 'auto' }
              : undefined,
          onProgress(p) {
            bar ??= progressBar(
              'ingest',
              p.modelsTotal,
              'ingest [{bar}] {value}/{total} models | {filters} filters | {mbps} MB/s | {eta_formatted}',
            );
            bar.update(p.modelsDone, p.modelsTotal, {
              filters: p.filters,
              mbps: (p.bytes / 1e6 / Math.max(p.seconds, 1e-3)).toFixed(1),
            });
          },
          onResult(r) {
            if (r.status === 'failed') process.stderr.write(`filterdb: ${r.error}\n`);
          },
        });
      } finally {
        (bar as ReturnType<typeof progressBar> | null)?.stop();
      }
      const counts = await databaseCounts(db.connection);
      db.close();
      if (summary.meta) for (const w of metaWarnings(summary.meta)) writeNote(w);
      if (opts.json)
        await writeOut(JSON.stringify({ db: opts.db, ...summary, database: counts }, null, 2) + '\n');
      else await writeOut(summaryText(opts.db, summary, counts));
      if (summary.counts.failed > 0) process.exitCode = 1;
    });
}

function summaryText(dbPath: string, s: IngestSummary, counts: Record<string, number>): string {
  const c = s.counts;
  const mbps = s.bytes / 1e6 / Math.max(s.seconds, 1e-3);
  const lines = [
    `${dbPath}: ${c.added} added, ${c.replaced} replaced, ${c.unchanged} unchanged, ${c.duplicate} duplicate, ${c.failed} failed` +
      ` (${s.filters} filters, ${(s.bytes / 1e6).toFixed(1)} MB in ${s.seconds.toFixed(1)} s, ${mbps.toFixed(1)} MB/s)`,
  ];
  for (const k of s.skipped) lines.push(`  skipped: ${k.reason}`);
  for (const r of s.results) {
    if (r.status === 'duplicate')
      lines.push(`  duplicate: ${r.file} has the same bytes as ${r.duplicateOf} (skipped)`);
    if (r.status === 'failed') lines.push(`  failed: ${r.error}`);
  }
  if (s.meta) lines.push(...metaText(s.meta));
  lines.push(
    `database now: ${counts.models} models, ${counts.layers} layers, ${counts.filters} 3x3 filters` +
      (counts.filtersOther ? `, ${counts.filtersOther} other filters` : ''),
  );
  return lines.join('\n') + '\n';
}

function metaText(m: MetaReport): string[] {
  const lines = [`metadata ${m.source}: ${m.rows} rows, ${m.matchedModels} models matched`];
  if (m.rowsWithoutModel.length) {
    lines.push(
      `  ${m.rowsWithoutModel.length} metadata rows without a model: ${m.rowsWithoutModel.join(', ')}`,
    );
  }
  if (m.modelsWithoutMeta.length) {
    lines.push(`  ${m.modelsWithoutMeta.length} models without metadata: ${m.modelsWithoutMeta.join(', ')}`);
  }
  return lines;
}

/** Ambiguous joins are warnings (stderr, every output mode): one metadata row landing on several models. */
export function metaWarnings(m: MetaReport): string[] {
  const out = m.ambiguous.map(
    (a) =>
      `warning: metadata row ${JSON.stringify(a.key)} matches ${a.models.length} models (${a.models.join(', ')}): all of them receive it; add a "file" column to tell them apart`,
  );
  if (m.conflicts.length)
    out.push(
      `warning: models matched by several metadata rows (the last row wins): ${m.conflicts.join(', ')}`,
    );
  return out;
}
