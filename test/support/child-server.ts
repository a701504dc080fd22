/**
 * Test helper: a fixture server in a child process (its memory and CPU measured apart from the test's).
 * As a script: `node child-server.js '<ServerOptions JSON>'` prints one JSON line `{ url, token }` once
 * listening and runs until killed. From a test: {@link startChildServer}.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { ServerOptions } from '../../src/server/server.js';
import { fixtureServer } from './web-server.js';

export interface ChildServer {
  url: string;
  token: string;
  child: ChildProcess;
  /** The child's resident memory now and at its peak (bytes), from /proc. */
  memory(): { rss: number; peak: number };
  /** Starts a new peak (Linux: "5" into /proc/PID/clear_refs resets VmHWM). */
  resetPeak(): void;
  /** CPU seconds the child has used (user + system, all threads), from /proc. */
  cpuSeconds(): number;
  stop(): Promise<void>;
}

/** /proc is how the child is measured: the tests using it skip elsewhere. */
export const HAS_PROC = (() => {
  try {
    readFileSync('/proc/self/status');
    return true;
  } catch {
    return false;
  }
})();

export async function startChildServer(options: ServerOptions = {}): Promise<ChildServer> {
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), JSON.stringify(options)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const line = await new Promise<string>((resolve, reject) => {
    let text = '';
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (c: string) => {
      text += c;
      const nl = text.indexOf('\n');
      if (nl >= 0) resolve(text.slice(0, nl));
    });
    child.once('exit', (code) => reject(new Error(`child server exited (${code}) before listening`)));
  });
  const { url, token } = JSON.parse(line) as { url: string; token: string };
  const status = () => readFileSync(`/proc/${child.pid}/status`, 'utf8');
  const kb = (text: string, key: string) =>
    Number(new RegExp(`${key}:\\s+(\\d+) kB`).exec(text)?.[1] ?? 0) * 1024;
  return {
    url,
    token,
    child,
    memory() {
      const s = status();
      return { rss: kb(s, 'VmRSS'), peak: kb(s, 'VmHWM') };
    },
    resetPeak() {
      writeFileSync(`/proc/${child.pid}/clear_refs`, '5');
    },
    cpuSeconds() {
      // fields 14 and 15 of /proc/PID/stat (after the parenthesised name): utime, stime in clock ticks
      const stat = readFileSync(`/proc/${child.pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return (Number(fields[11]) + Number(fields[12])) / 100;
    },
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const options = JSON.parse(process.argv[2] ?? '{}') as ServerOptions;
  const srv = await fixtureServer(options);
  process.stdout.write(`${JSON.stringify({ url: srv.url, token: srv.token })}\n`);
  process.once('SIGTERM', () => {
    srv.stop().then(() => process.exit(0));
  });
}
