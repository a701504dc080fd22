/** `filterdb report <file> --out report.html`: a self-contained HTML report of one model. */
import { writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { FilterDbError } from '../../errors.js';
import { readModel } from '../../formats/detect.js';
import { openModelInput } from '../../node/file-source.js';
import { modelReportHtml } from '../../report/model-report.js';
import { UsageError } from '../context.js';
import { progressBar } from '../progress.js';

interface ReportCliOptions {
  out?: string;
  sparsityEps: string;
  maxFilters: string;
  degenerated: string;
}

export function registerReport(program: Command): void {
  program
    .command('report')
    .description(
      'write a self-contained HTML report of a model: layer table, flags, metric curves, filter grids, eigen-images',
    )
    .argument('<file>', 'model file or directory')
    .requiredOption('--out <report.html>', 'where to write the HTML file')
    .option('--sparsity-eps <E>', "sparsity threshold as a fraction of the layer's max |w|", '0.01')
    .option('--max-filters <N>', 'most 2-D filters drawn per layer grid', '256')
    .option('--degenerated <N>', 'filter grids for this many of the most degenerated layers', '3')
    .action(async (file: string, opts: ReportCliOptions) => {
      const sparsityEps = Number(opts.sparsityEps);
      if (!(sparsityEps >= 0 && sparsityEps < 1))
        throw new UsageError(`--sparsity-eps must be in [0, 1), got ${opts.sparsityEps}`);
      const maxFilters = Number(opts.maxFilters);
      if (!(Number.isInteger(maxFilters) && maxFilters >= 1))
        throw new UsageError(`--max-filters must be a positive integer, got ${opts.maxFilters}`);
      const degeneratedGrids = Number(opts.degenerated);
      if (!(Number.isInteger(degeneratedGrids) && degeneratedGrids >= 0))
        throw new UsageError(`--degenerated must be a whole number, got ${opts.degenerated}`);
      const out = opts.out!;
      const model = await readModel(await openModelInput(file));
      const bar = progressBar('measuring', model.layers.length);
      const html = await modelReportHtml(model, {
        sparsityEps,
        maxFilters,
        degeneratedGrids,
        onLayer: (done, total) => bar.update(done, total),
      });
      bar.stop();
      try {
        await writeFile(out, html);
      } catch (e) {
        throw new FilterDbError('missing-file', out, `cannot write the report: ${(e as Error).message}`);
      }
      process.stderr.write(`wrote ${out} (${Math.round(Buffer.byteLength(html) / 1024)} kB)\n`);
    });
}
