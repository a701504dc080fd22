#!/usr/bin/env node
/**
 * filterdb command line: one module per command under ./commands.
 * Command modules are imported on demand: a `quality` run must not pay for loading DuckDB's native
 * module or the HTML report code, so only the command named on the command line is loaded (all of
 * them for help or an unknown command).
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { reportAndExit } from './context.js';

type Register = (program: Command) => void;

/** Command name → loader of its register function. Add one line per command. */
const COMMANDS = new Map<string, () => Promise<Register>>([
  ['inspect', async () => (await import('./commands/inspect.js')).registerInspect],
  ['quality', async () => (await import('./commands/quality.js')).registerQuality],
  ['report', async () => (await import('./commands/report.js')).registerReport],
  ['prune-plan', async () => (await import('./commands/prune-plan.js')).registerPrunePlan],
  ['ingest', async () => (await import('./commands/ingest.js')).registerIngest],
  ['import-h5', async () => (await import('./commands/import-h5.js')).registerImportH5],
  ['sql', async () => (await import('./commands/sql.js')).registerSql],
  ['export', async () => (await import('./commands/export.js')).registerExport],
  ['pca', async () => (await import('./commands/pca.js')).registerPca],
  ['shift', async () => (await import('./commands/shift.js')).registerShift],
  ['cohorts', async () => (await import('./commands/cohorts.js')).registerCohorts],
  ['serve', async () => (await import('./commands/serve.js')).registerServe],
  ['energy', async () => (await import('./commands/energy.js')).registerEnergy],
  ['kernels', async () => (await import('./commands/kernels.js')).registerKernels],
]);

const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

/** Builds the program with the named command only, or with every command when `only` is not one. */
export async function buildProgram(only?: string): Promise<Command> {
  const program = new Command('filterdb')
    .description(
      'Read trained CNN model files, measure their convolution filters, and keep a filter database.',
    )
    .version(pkg.version)
    .showHelpAfterError()
    .exitOverride();
  const loaders = only && COMMANDS.has(only) ? [COMMANDS.get(only)!] : [...COMMANDS.values()];
  for (const register of await Promise.all(loaders.map((load) => load()))) register(program);
  return program;
}

async function main(argv: string[]): Promise<void> {
  try {
    const program = await buildProgram(argv[2]);
    await program.parseAsync(argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      // help and version exit 0; everything else commander rejects is bad usage
      process.exit(e.exitCode === 0 ? 0 : 2);
    }
    reportAndExit(e);
  }
}

await main(process.argv);
