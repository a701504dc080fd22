#!/usr/bin/env node
/**
 * Builds the optional native scan reader (native/scan_reader.c → build/Release/filterdb_scan.node) with
 * node-gyp, against the libduckdb.so that @duckdb/node-bindings ships. Run by `npm install`/`npm ci` and by
 * `npm run build` (skipped when the addon is newer than its sources).
 *
 * The addon only makes shift/pca scans faster (src/scan/native-scan.ts); without a C compiler the build
 * prints why and the scans use @duckdb/node-bindings. FILTERDB_REQUIRE_NATIVE=1 (CI) makes a failed build an
 * error instead.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const addon = join(root, 'build/Release/filterdb_scan.node');
const sources = ['native/scan_reader.c', 'binding.gyp', 'scripts/build-native.mjs'].map((f) => join(root, f));
const required = process.env.FILTERDB_REQUIRE_NATIVE === '1';

const mtime = (f) => (existsSync(f) ? statSync(f).mtimeMs : 0);
if (mtime(addon) > Math.max(...sources.map(mtime))) process.exit(0);

/** npm's own node-gyp (npm sets npm_config_node_gyp in scripts), else the one bundled beside this node. */
function nodeGyp() {
  const candidates = [
    process.env.npm_config_node_gyp,
    join(dirname(process.execPath), '../lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js'),
  ];
  return candidates.find((c) => c && existsSync(c)) ?? null;
}

/** Node's headers installed beside this node (Debian's /usr/include/node): no download needed. */
function nodeDir() {
  if (process.env.npm_config_nodedir) return process.env.npm_config_nodedir;
  const prefix = join(dirname(process.execPath), '..');
  return existsSync(join(prefix, 'include/node/node_api.h')) ? prefix : null;
}

function fail(why) {
  const msg = `filterdb: native scan reader not built (${why}); shift/pca scans will use @duckdb/node-bindings (slower)`;
  if (required) {
    console.error(`${msg}\nFILTERDB_REQUIRE_NATIVE=1: failing`);
    process.exit(1);
  }
  console.warn(msg);
  process.exit(0);
}

const gyp = nodeGyp();
if (!gyp) fail('node-gyp not found');
const dir = nodeDir();
const args = [gyp, 'rebuild', '--silent', ...(dir ? [`--nodedir=${dir}`] : [])];
const r = spawnSync(process.execPath, args, { cwd: root, encoding: 'utf8' });
if (r.status !== 0)
  fail(`node-gyp: ${(r.stderr || r.stdout || '').trim().split('\n').slice(-3).join(' | ')}`);
if (!existsSync(addon)) fail('node-gyp produced no filterdb_scan.node');
