/**
 * The README's promise (issue 12, item 14): in a fresh clone, right after the install command (`npm ci`), the
 * command line is `npx filterdb`. This clones the repository's committed HEAD (uncommitted changes are not in
 * the clone), runs a real `npm ci` there (`--prefer-offline`: packages come from npm's cache, which the
 * install of this checkout filled) and `npx filterdb --version`. Slow by nature (an install and a build: 217 s
 * on the shared 2-core machine at a load average of about 19).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { repoRoot } from './support/paths.js';

const tmp = mkdtempSync(join(tmpdir(), 'filterdb-clone-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** The environment without the npm_* variables of an enclosing `npm test`, so the child npm starts clean. */
function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k)));
}

const git = spawnSync('git', ['--version'], { encoding: 'utf8' });
const isRepo = existsSync(join(repoRoot, '.git'));

test('a fresh clone: the README install command, then `npx filterdb --version`', {
  skip: git.status !== 0 ? 'git is not installed' : !isRepo ? 'not a git checkout' : false,
  timeout: 600_000,
}, () => {
  const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
  // the README says this, and this is what runs below
  assert.match(readme, /After `npm ci` the command line is `npx filterdb …`/);
  const clone = join(tmp, 'filterdb');
  const c = spawnSync('git', ['clone', '--quiet', repoRoot, clone], { encoding: 'utf8' });
  assert.equal(c.status, 0, c.stderr);
  assert.ok(!existsSync(join(clone, 'dist')), 'a fresh clone has no build');
  const env = cleanEnv();
  const ci = spawnSync('npm', ['ci', '--no-audit', '--no-fund', '--prefer-offline'], {
    cwd: clone,
    env,
    encoding: 'utf8',
  });
  assert.equal(ci.status, 0, `npm ci failed:\n${ci.stdout}\n${ci.stderr}`);
  const v = spawnSync('npx', ['filterdb', '--version'], { cwd: clone, env, encoding: 'utf8' });
  assert.equal(v.status, 0, v.stderr);
  const pkg = JSON.parse(readFileSync(join(clone, 'package.json'), 'utf8')) as { version: string };
  assert.equal(v.stdout.trim(), pkg.version);
});
