/** Test helper: runs the built command line (dist/src/cli/main.js) without progress bars. */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from './paths.js';

export const cliPath = join(repoRoot, 'dist/src/cli/main.js');

export function runCli(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [cliPath, ...args], {
    encoding: 'utf8',
    env: { ...process.env, FILTERDB_NO_PROGRESS: '1' },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
