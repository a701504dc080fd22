#!/usr/bin/env node
/** filterdb command line: one module per command under ./commands. */
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { registerExport } from './commands/export.js';
import { registerImportH5 } from './commands/import-h5.js';
import { registerIngest } from './commands/ingest.js';
import { registerInspect } from './commands/inspect.js';
import { registerQuality } from './commands/quality.js';
import { registerReport } from './commands/report.js';
import { registerSql } from './commands/sql.js';
import { reportAndExit } from './context.js';

const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

export function buildProgram(): Command {
  const program = new Command('filterdb')
    .description(
      'Read trained CNN model files, measure their convolution filters, and keep a filter database.',
    )
    .version(pkg.version)
    .showHelpAfterError()
    .exitOverride();
  registerInspect(program);
  registerQuality(program);
  registerReport(program);
  registerIngest(program);
  registerSql(program);
  registerExport(program);
  registerImportH5(program);
  return program;
}

async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  try {
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
