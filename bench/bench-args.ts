/**
 * What the synthetic-filter benches (shift, cohorts, clickhouse) share: their command-line flags, the synthetic
 * database they reuse from bench/out/, and a whole-process timer.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
export const flag = (name: string): boolean => args.includes(name);
export const value = (name: string, def: string): string => {
  const i = args.indexOf(name);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : def;
};
export const log = (s: string): void => {
  process.stderr.write(`${s}\n`);
};
export const root = fileURLToPath(new URL('../../', import.meta.url));

/** `--filters N` (default `defaultFilters`) and `--db` (default bench/out/shift-<N>.duckdb, shared by the benches). */
export function syntheticDbArgs(defaultFilters: string): {
  N: number;
  outDir: string;
  tag: string;
  dbPath: string;
} {
  const N = Math.round(Number(value('--filters', defaultFilters)));
  const outDir = join(root, 'bench/out');
  mkdirSync(outDir, { recursive: true });
  const tag = N % 1e6 === 0 ? `${N / 1e6}M` : String(N);
  return { N, outDir, tag, dbPath: value('--db', join(outDir, `shift-${tag}.duckdb`)) };
}

/** Runs a command under /usr/bin/time -v: wall seconds, CPU seconds (user + system) and peak RSS (MB). */
export function timed(
  cmd: string,
  argv: string[],
): { seconds: number; cpuSeconds: number; rssMB: number; stdout: string } {
  const r = spawnSync('/usr/bin/time', ['-v', cmd, ...argv], {
    encoding: 'utf8',
    maxBuffer: 1 << 28,
    env: { ...process.env, FILTERDB_NO_PROGRESS: '1' },
  });
  if (r.status !== 0) throw new Error(`${cmd} ${argv.join(' ')} failed:\n${r.stderr}`);
  const wall = /Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):([\d.]+)/.exec(r.stderr)!;
  const seconds = Number(wall[1] ?? 0) * 3600 + Number(wall[2]) * 60 + Number(wall[3]);
  const rssMB = Number(/Maximum resident set size \(kbytes\): (\d+)/.exec(r.stderr)![1]) / 1024;
  const cpu = (what: string) =>
    Number(new RegExp(`${what} time \\(seconds\\): ([\\d.]+)`).exec(r.stderr)?.[1] ?? 0);
  return { seconds, cpuSeconds: cpu('User') + cpu('System'), rssMB, stdout: r.stdout };
}
