/**
 * bench/first-touch: what memory a process touches for the first time costs on this machine (page faults
 * and zeroing by the host), which weighs on every step that allocates — the README's machine note quotes it.
 * Allocates `--mb` MB (default 1200) and writes one byte per 4 KiB page, then writes the same pages again.
 *
 *   node dist/bench/first-touch.js [--mb 1200] [--runs 3]
 */
import { machineLine } from './machine.js';

const args = process.argv.slice(2);
const value = (name: string, def: string) => {
  const i = args.indexOf(name);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : def;
};
const mb = Number(value('--mb', '1200'));
const runs = Number(value('--runs', '3'));
console.log(machineLine());
for (let r = 0; r < runs; r++) {
  const t0 = performance.now();
  const buf = new Uint8Array(mb * 2 ** 20);
  for (let i = 0; i < buf.length; i += 4096) buf[i] = 1;
  const first = performance.now() - t0;
  const t1 = performance.now();
  for (let i = 0; i < buf.length; i += 4096) buf[i] = 2;
  const again = performance.now() - t1;
  console.log(
    `${mb} MB: first touch ${(first / 1000).toFixed(2)} s (${(first / mb).toFixed(2)} ms per MB), touched again ${again.toFixed(0)} ms`,
  );
}
