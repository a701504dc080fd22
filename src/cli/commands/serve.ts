/** `filterdb serve [--db zoo.duckdb] [--port 8080] [--host 127.0.0.1]`: the local web app and its JSON API. */
import type { Command } from 'commander';
import { ensureExampleDb } from '../../server/examples.js';
import { parseSize } from '../../server/http.js';
import { startServer } from '../../server/server.js';
import { UsageError } from '../context.js';

interface ServeCliOptions {
  db?: string;
  port: string;
  host: string;
  readOnly?: boolean;
  maxUpload: string;
  examples?: boolean;
  log?: boolean;
  timeout: string;
  analysisTimeout: string;
}

function seconds(text: string, flag: string): number {
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`${flag} takes seconds (> 0), not ${text}`);
  return n * 1000;
}

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description(
      'start the web app: browse a filter database, compare groups of filters, analyse a dropped model file in the browser',
    )
    .option(
      '--db <file>',
      'filter database to browse (created if missing); without it only dropping models works',
    )
    .option('--port <n>', 'TCP port (0: any free port)', '8080')
    .option(
      '--host <address>',
      'address to bind (default loopback only; 0.0.0.0 exposes the server)',
      '127.0.0.1',
    )
    .option('--read-only', 'open the database read-only (no uploads; other processes may read it too)')
    .option('--max-upload <size>', 'largest model file "add to database" accepts', '1GB')
    .option(
      '--examples',
      'build --db from the bundled PaddleOCR example models first, when it does not exist',
    )
    .option('--log', 'log every request on stderr')
    .option('--timeout <seconds>', 'work deadline of every request (503 after it)', '300')
    .option(
      '--analysis-timeout <seconds>',
      'deadline of analysing one uploaded model in its worker (a file that makes a reader spin is stopped)',
      '120',
    )
    .action(async (opts: ServeCliOptions) => {
      const port = Number(opts.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535)
        throw new UsageError(`--port takes 0..65535, not ${opts.port}`);
      const timeoutMs = seconds(opts.timeout, '--timeout');
      const analysisTimeoutMs = seconds(opts.analysisTimeout, '--analysis-timeout');
      const maxUpload = parseSize(opts.maxUpload);
      if (maxUpload === null || maxUpload < 1)
        throw new UsageError(`--max-upload takes a size such as 512MB, not ${opts.maxUpload}`);
      if (opts.examples) {
        if (!opts.db)
          throw new UsageError('--examples needs --db <file> (where to build the example database)');
        await ensureExampleDb(opts.db, (line) => process.stderr.write(`${line}\n`));
      }
      let running: Awaited<ReturnType<typeof startServer>>;
      try {
        running = await startServer({
          db: opts.db,
          readOnly: opts.readOnly,
          port,
          host: opts.host,
          maxUpload,
          timeoutMs,
          analysisTimeoutMs,
          // scripts that add models authorise with this; a fixed one can be given in the environment
          token: process.env.FILTERDB_TOKEN || undefined,
          onRequest: opts.log
            ? (r) => process.stderr.write(`${r.method} ${r.path} ${r.status} ${r.ms.toFixed(0)} ms\n`)
            : undefined,
        });
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'EADDRINUSE') throw new UsageError(`port ${port} is in use; pick another with --port`);
        if (code === 'EADDRNOTAVAIL') throw new UsageError(`cannot bind ${opts.host}`);
        throw e;
      }
      process.stdout.write(
        `filterdb serving ${opts.db ? opts.db : '(no database: drop-a-model only)'} at ${running.url}\n` +
          (opts.host !== '127.0.0.1' && opts.host !== 'localhost'
            ? `warning: bound to ${opts.host}, reachable from other machines; the API has no authentication\n`
            : '') +
          `writes from scripts (no browser Origin header): send "Authorization: Bearer ${running.token}"\n` +
          'press Ctrl+C to stop\n',
      );
      const stop = () => {
        running.close().then(() => process.exit(0));
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
}
