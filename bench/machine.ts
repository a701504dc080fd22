/** The date and machine a benchmark ran on, printed by every bench script so each figure can be dated. */
import { cpus, release, totalmem } from 'node:os';

export function machineLine(): string {
  const c = cpus();
  return `measured ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC on ${c.length} × ${c[0]?.model.trim() ?? 'unknown CPU'}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM, Linux ${release()}, Node ${process.version}`;
}
