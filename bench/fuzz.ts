/**
 * bench/fuzz: seeded mutation fuzzing of every reader (issue 17). Each input is a real or generated model
 * file with 1–3 mutations (bit flips, boundary bytes, truncation, chunk duplication / deletion, length-field
 * inflation); it runs in a child process (bench/fuzz-child.ts: read + all metrics, or import-h5) with a
 * deadline and an RSS cap, and is classified:
 *   ok       read and measured
 *   typed    refused with a FilterDbError (the intended answer to a broken file)
 *   untyped  any other exception, or the child crashed
 *   hang     over the deadline (the child is killed)
 *   oom      over the RSS cap (polled from /proc every 25 ms; the child is killed) or out of heap
 * Children are reused from input to input (a node start per input would cost more than most inputs) and
 * replaced after a kill. Every input that is not ok/typed is saved with a .json saying how it was made and
 * what happened; the saved file alone reproduces it (`filterdb quality <file>`, or `import-h5` for dataset-h5).
 *
 *   npm run fuzz -- --format onnx --count 20000 --seed 1 [--timeout 10000] [--rss-mb 2048] [--workers 2]
 *   npm run fuzz -- --format all --count 500 --seed 1 --json
 * Exit status 1 when any input was untyped, hang or oom.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { basename, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mulberry32 } from '../test/support/random.js';
import type { FuzzAnswer, FuzzJob } from './fuzz-child.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

interface Seed {
  main: string;
  files: string[];
}

function file(rel: string): Seed {
  return { main: join(root, rel), files: [join(root, rel)] };
}

function folder(rel: string, main: string): Seed {
  const dir = join(root, rel);
  return { main: join(dir, main), files: readdirSync(dir).map((f) => join(dir, f)) };
}

/** Seeds per format: real trained models where the repo or an npm package has them, else generated ones. */
export const FORMATS: Record<string, () => Seed[]> = {
  onnx: () => [file('test/data/digits_cnn.onnx'), file('test/data/digits_dwsep.onnx')],
  pytorch: () => [
    file('test/data/digits_cnn.pt'),
    file('test/data/torch/module.pt'),
    file('test/data/torch/legacy.pt'),
    file('test/data/torch/deflated.pt'),
  ],
  safetensors: () => [file('test/data/digits_cnn.safetensors'), file('test/data/torch/dtypes.safetensors')],
  tfjs: () => [folder('node_modules/@upscalerjs/default-model/models', 'model.json')],
  tflite: () => [file('test/data/fuzz-seeds/model.tflite')],
  keras: () => [file('test/data/fuzz-seeds/keras2.h5')],
  'dataset-h5': () => [file('test/data/hostile-h5/valid.h5')],
};

export type Outcome = 'ok' | 'typed' | 'untyped' | 'hang' | 'oom';

export interface FuzzOptions {
  format: string;
  count: number;
  seed: number;
  timeoutMs?: number;
  rssMb?: number;
  workers?: number;
  /** Where reproductions go (default bench/out/fuzz/<format>). */
  outDir?: string;
}

export interface FuzzSummary {
  format: string;
  seed: number;
  inputs: number;
  counts: Record<Outcome, number>;
  maxRssMb: number;
  seconds: number;
  findings: { index: number; outcome: Outcome; detail: string; saved: string }[];
}

const BOUNDARY = [0x00, 0xff, 0x7f, 0x80, 0x01, 0xfe];
const BIG_U32 = [0xffffffff, 0x7fffffff, 0x80000000, 0x40000000, 0x10000000, 0x0000ffff];

/** 1–3 seeded mutations of `input`; returns the bytes and a description of what was done. */
export function mutate(input: Uint8Array, rand: () => number): { bytes: Uint8Array; steps: string[] } {
  let b = input.slice();
  const steps: string[] = [];
  const at = (n: number) => Math.floor(rand() * n);
  const count = 1 + at(3);
  for (let s = 0; s < count && b.length > 0; s++) {
    const kind = at(6);
    if (kind === 0) {
      const flips = 1 + at(16);
      for (let i = 0; i < flips; i++) b[at(b.length)] ^= 1 << at(8);
      steps.push(`flip ${flips} bits`);
    } else if (kind === 1) {
      const n = 1 + at(8);
      for (let i = 0; i < n; i++) b[at(b.length)] = BOUNDARY[at(BOUNDARY.length)];
      steps.push(`${n} boundary bytes`);
    } else if (kind === 2) {
      const len = at(b.length);
      b = b.slice(0, len);
      steps.push(`truncate to ${len}`);
    } else if (kind === 3) {
      const len = 1 + at(Math.min(4096, Math.max(1, b.length >> 3)));
      const from = at(Math.max(1, b.length - len));
      const to = at(b.length);
      const chunk = b.slice(from, from + len);
      const out = new Uint8Array(b.length + chunk.length);
      out.set(b.subarray(0, to));
      out.set(chunk, to);
      out.set(b.subarray(to), to + chunk.length);
      b = out;
      steps.push(`duplicate ${len} bytes from ${from} at ${to}`);
    } else if (kind === 4) {
      const len = 1 + at(Math.min(4096, Math.max(1, b.length >> 3)));
      const from = at(Math.max(1, b.length - len));
      const out = new Uint8Array(Math.max(0, b.length - len));
      out.set(b.subarray(0, from));
      out.set(b.subarray(from + len), from);
      b = out;
      steps.push(`delete ${len} bytes at ${from}`);
    } else if (b.length >= 8) {
      // length-field inflation: a little-endian u32 (or u64) made huge, or an existing one scaled up
      const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
      const wide = rand() < 0.3;
      const p = wide ? at(b.length - 7) & ~7 : at(b.length - 3) & ~3;
      if (wide) view.setBigUint64(p, BigInt(2 ** (32 + at(31))) - BigInt(at(2)), true);
      else if (rand() < 0.5) view.setUint32(p, BIG_U32[at(BIG_U32.length)], true);
      else view.setUint32(p, Math.min(0xffffffff, view.getUint32(p, true) * 2 ** (4 + at(12))), true);
      steps.push(`inflate ${wide ? 'u64' : 'u32'} at ${p}`);
    }
  }
  return { bytes: b, steps };
}

class Child {
  readonly proc: ChildProcess;
  readonly ready: Promise<void>;
  maxRssMb = 0;
  stderr = '';
  constructor(env: NodeJS.ProcessEnv) {
    this.proc = fork(fileURLToPath(new URL('./fuzz-child.js', import.meta.url)), [], {
      serialization: 'advanced',
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      env,
    });
    this.proc.stderr?.on('data', (d: Buffer) => {
      this.stderr = (this.stderr + d.toString()).slice(-4000);
    });
    this.ready = new Promise((resolve) => this.proc.once('message', () => resolve()));
  }
  rssMb(): number {
    try {
      const status = readFileSync(`/proc/${this.proc.pid}/status`, 'utf8');
      const m = /VmRSS:\s+(\d+) kB/.exec(status);
      return m ? Number(m[1]) / 1024 : 0;
    } catch {
      return 0;
    }
  }
  /** Runs one job; resolves with its outcome (the child is dead after hang/oom/crash). */
  run(job: FuzzJob, timeoutMs: number, rssMb: number): Promise<{ outcome: Outcome; detail: string }> {
    return new Promise((resolve) => {
      let settled = false;
      const finish = (outcome: Outcome, detail: string) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        clearInterval(poll);
        this.proc.off('message', onMessage);
        this.proc.off('exit', onExit);
        resolve({ outcome, detail });
      };
      const onMessage = (a: FuzzAnswer) => {
        if (a.id === job.id) finish(a.outcome, a.detail);
      };
      const onExit = (code: number | null, signal: string | null) => {
        const text = this.stderr;
        const oom = /heap out of memory|Array buffer allocation failed|Cannot allocate memory/.test(text);
        finish(oom ? 'oom' : 'untyped', `child exited (${code ?? signal}): ${text.slice(-1500)}`);
      };
      const timer = setTimeout(() => {
        this.proc.kill('SIGKILL');
        finish('hang', `no answer within ${timeoutMs} ms`);
      }, timeoutMs);
      const poll = setInterval(() => {
        const rss = this.rssMb();
        this.maxRssMb = Math.max(this.maxRssMb, rss);
        if (rss > rssMb) {
          this.proc.kill('SIGKILL');
          finish('oom', `RSS ${rss.toFixed(0)} MB over the ${rssMb} MB cap`);
        }
      }, 25);
      this.proc.on('message', onMessage);
      this.proc.once('exit', onExit);
      this.proc.send(job);
    });
  }
}

/** Runs one seeded round for one format. */
export async function fuzz(options: FuzzOptions): Promise<FuzzSummary> {
  const seeds = FORMATS[options.format]?.();
  if (!seeds) throw new Error(`unknown format ${options.format} (${Object.keys(FORMATS).join(', ')})`);
  const timeoutMs = options.timeoutMs ?? 10_000;
  const rssMb = options.rssMb ?? 2048;
  const workers = Math.max(1, options.workers ?? Math.min(2, availableParallelism()));
  const outDir = options.outDir ?? join(root, 'bench/out/fuzz', options.format);
  const env = {
    ...process.env,
    FILTERDB_NO_PROGRESS: '1',
    // HDF5's own deadline fires first, so a libhdf5 loop is reported as the typed error users would get
    FILTERDB_HDF5_DEADLINE_MS: String(Math.max(500, Math.floor(timeoutMs / 3))),
  };
  const originals = new Map<string, Uint8Array>();
  const summary: FuzzSummary = {
    format: options.format,
    seed: options.seed,
    inputs: options.count,
    counts: { ok: 0, typed: 0, untyped: 0, hang: 0, oom: 0 },
    maxRssMb: 0,
    seconds: 0,
    findings: [],
  };
  const t0 = performance.now();
  let next = 0;
  const lane = async () => {
    let child: Child | null = null;
    while (next < options.count) {
      const index = next++;
      const rand = mulberry32((options.seed * 1_000_003 + index) >>> 0);
      const seed = seeds[Math.floor(rand() * seeds.length)];
      const target = seed.files[Math.floor(rand() * seed.files.length)];
      if (!originals.has(target)) originals.set(target, new Uint8Array(readFileSync(target)));
      const { bytes, steps } = mutate(originals.get(target)!, rand);
      if (!child) {
        child = new Child(env);
        await child.ready;
      }
      const job: FuzzJob = {
        id: index,
        format: options.format,
        files: seed.files,
        main: seed.main,
        mutated: target,
        bytes,
      };
      const { outcome, detail } = await child.run(job, timeoutMs, rssMb);
      summary.counts[outcome]++;
      summary.maxRssMb = Math.max(summary.maxRssMb, child.maxRssMb);
      if (outcome !== 'ok' && outcome !== 'typed') {
        mkdirSync(outDir, { recursive: true });
        const name = `${outcome}-${options.seed}-${index}${extname(target) || '.bin'}`;
        const saved = join(outDir, name);
        writeFileSync(saved, bytes);
        const record = {
          format: options.format,
          seed: options.seed,
          index,
          seedFile: target,
          mutatedFile: basename(target),
          steps,
          outcome,
          detail,
        };
        writeFileSync(`${saved}.json`, `${JSON.stringify(record, null, 2)}\n`);
        summary.findings.push({ index, outcome, detail: detail.split('\n')[0].slice(0, 300), saved });
      }
      if (
        outcome === 'hang' ||
        outcome === 'oom' ||
        child.proc.exitCode !== null ||
        child.proc.signalCode !== null
      ) {
        child.proc.kill('SIGKILL');
        child = null;
      }
    }
    child?.proc.kill();
  };
  await Promise.all(Array.from({ length: workers }, lane));
  summary.seconds = (performance.now() - t0) / 1000;
  return summary;
}

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : fallback;
}

async function main(): Promise<void> {
  const format = arg('format', 'all');
  const formats = format === 'all' ? Object.keys(FORMATS) : format.split(',');
  const results: FuzzSummary[] = [];
  for (const f of formats) {
    const s = await fuzz({
      format: f,
      count: Number(arg('count', '500')),
      seed: Number(arg('seed', '1')),
      timeoutMs: Number(arg('timeout', '10000')),
      rssMb: Number(arg('rss-mb', '2048')),
      workers: Number(arg('workers', String(Math.min(2, availableParallelism())))),
    });
    results.push(s);
    if (!process.argv.includes('--json')) {
      const c = s.counts;
      process.stdout.write(
        `${f.padEnd(12)} ${String(s.inputs).padStart(6)} inputs  ok ${c.ok}  typed ${c.typed}  untyped ${c.untyped}  hang ${c.hang}  oom ${c.oom}  max RSS ${s.maxRssMb.toFixed(0)} MB  ${s.seconds.toFixed(1)} s\n`,
      );
      for (const x of s.findings)
        process.stdout.write(`  ${x.outcome} #${x.index}: ${x.detail}\n    saved ${x.saved}\n`);
    }
  }
  if (process.argv.includes('--json')) process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
  if (results.some((s) => s.counts.untyped + s.counts.hang + s.counts.oom > 0)) process.exitCode = 1;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await main();
