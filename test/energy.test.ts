/** First-layer energy profile: DCT basis, profiles and .npy bases against the numpy reference; hostile .npy. */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  dctBasis,
  energyProfile,
  firstConvLayerIndex,
  orthonormalityError,
  pearson,
} from '../src/analysis/energy.js';
import { isFilterDbError } from '../src/errors.js';
import { parseNpyMatrix } from '../src/formats/io/npy.js';
import { energyProfileSvg } from '../src/report/svg/energy.js';
import { runCli } from './support/cli.js';
import { dataPath } from './support/paths.js';

interface Reference {
  dct_c2_k3: number[][];
  cases: Record<string, { energy: number[]; profile: number[] }>;
  pearson_rgb_dct_vs_init: number;
}
const ref = JSON.parse(readFileSync(dataPath('energy/energy_reference.json'), 'utf8')) as Reference;

function close(actual: readonly number[], expected: readonly number[], tol: number, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    assert.ok(
      Math.abs(actual[i] - expected[i]) <= tol,
      `${what}[${i}]: ${actual[i]} vs numpy ${expected[i]}`,
    );
  }
}

test('DCT basis equals scipy.fft.dct(norm=ortho) ordered by (u+v, u, channel), and is orthonormal', () => {
  const b = dctBasis(2, 3);
  assert.equal(b.size, 18);
  close(Array.from(b.vectors), ref.dct_c2_k3.flat(), 1e-12, 'dct');
  assert.deepEqual(b.labels.slice(0, 6), [
    'c0 (0,0)',
    'c1 (0,0)',
    'c0 (0,1)',
    'c1 (0,1)',
    'c0 (1,0)',
    'c1 (1,0)',
  ]);
  assert.ok(orthonormalityError(dctBasis(3, 7)) < 1e-12);
  assert.ok(orthonormalityError(dctBasis(1, 3, 5)) < 1e-12);
});

test('energy profile: definition on a hand example (init subtracted, 1/F, normalised by max)', () => {
  // identity basis of a 1×1×2 patch space: E_i = sqrt(Σ_f d_fi²) / F
  const basis = { size: 2, vectors: new Float64Array([1, 0, 0, 1]), labels: ['a', 'b'] };
  const p = energyProfile([3, 1, 4, 1], basis, [0, 1, 0, 1]);
  assert.deepEqual(p.energy, [2.5, 0]);
  assert.deepEqual(p.profile, [1, 0]);
  assert.throws(() => energyProfile([1, 2, 3], basis), RangeError);
});

test('energy CLI on files equals numpy to 1e-9: DCT, --init, float64/float32/Fortran-order .npy bases', () => {
  const cases: [string, string[]][] = [
    ['digits_cnn dct', [dataPath('digits_cnn.safetensors')]],
    [
      'digits_cnn basis9_fortran',
      [dataPath('digits_cnn.safetensors'), '--basis', dataPath('energy/basis9_fortran.npy')],
    ],
    ['rgb_stem dct', [dataPath('energy/rgb_stem.safetensors')]],
    [
      'rgb_stem dct init',
      [dataPath('energy/rgb_stem.safetensors'), '--init', dataPath('energy/rgb_stem_init.safetensors')],
    ],
    [
      'rgb_stem basis75_f8',
      [dataPath('energy/rgb_stem.safetensors'), '--basis', dataPath('energy/basis75_f8.npy')],
    ],
    [
      'rgb_stem basis75_f4',
      [dataPath('energy/rgb_stem.safetensors'), '--basis', dataPath('energy/basis75_f4.npy')],
    ],
  ];
  for (const [name, args] of cases) {
    const r = runCli(['energy', ...args, '--json']);
    assert.equal(r.code, 0, `${name}: ${r.stderr}`);
    const out = JSON.parse(r.stdout) as {
      models: { energy: number[]; profile: number[]; filters: number }[];
    };
    assert.equal(out.models.length, 1);
    close(out.models[0].energy, ref.cases[name].energy, 1e-9, `${name} energy`);
    close(out.models[0].profile, ref.cases[name].profile, 1e-9, `${name} profile`);
  }
});

test('pearson equals numpy corrcoef; constant or unequal-length profiles have none', () => {
  const a = ref.cases['rgb_stem dct'].profile;
  const b = ref.cases['rgb_stem dct init'].profile;
  assert.ok(Math.abs(pearson(a, b)! - ref.pearson_rgb_dct_vs_init) < 1e-12);
  assert.equal(pearson([1, 1, 1], [1, 2, 3]), null);
  assert.equal(pearson([1, 2], [1, 2, 3]), null);
});

test('first conv layer: lowest conv depth among 2-D non-transposed convs, ties by file order', () => {
  const l = (shape: number[], convDepth: number, kind: string | null = 'plain', op = 'Conv') => ({
    shape,
    convDepth,
    kind,
    op,
  });
  assert.equal(firstConvLayerIndex([l([8, 3, 3], 0), l([4, 3, 3, 3], 1), l([4, 3, 7, 7], 1)]), 1);
  assert.equal(firstConvLayerIndex([l([4, 3, 3, 3], 0, 'transposed'), l([4, 3, 3, 3], 2)]), 1);
  assert.equal(firstConvLayerIndex([l([8, 3], 0)]), -1);
});

test('energy plot: log axis, one path per model, zeros left out, empty message', () => {
  const svg = energyProfileSvg([{ label: 'm', profile: [1, 0.1, 0, 0.001] }]);
  assert.match(svg, /1e-3/);
  assert.equal((svg.match(/<circle/g) ?? []).length, 3);
  assert.match(energyProfileSvg([{ label: 'm', profile: [0, 0] }]), /no energy to show/);
});

function npy(header: string, data: Uint8Array, version = 1): Uint8Array {
  const pre = version === 1 ? 10 : 12;
  let h = header;
  while ((pre + h.length + 1) % 64) h += ' ';
  h += '\n';
  const out = new Uint8Array(pre + h.length + data.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version, 0]);
  const dv = new DataView(out.buffer);
  if (version === 1) dv.setUint16(8, h.length, true);
  else dv.setUint32(8, h.length, true);
  out.set(new TextEncoder().encode(h), pre);
  out.set(data, pre + h.length);
  return out;
}

test('.npy parser: big-endian and version 2 read; hostile files give typed errors naming the file', () => {
  const be = new Uint8Array(8 * 4);
  const dv = new DataView(be.buffer);
  for (const [i, v] of [1, 2, 3, 4].entries()) dv.setFloat64(i * 8, v, false);
  const m = parseNpyMatrix(
    npy("{'descr': '>f8', 'fortran_order': False, 'shape': (2, 2), }", be, 2),
    'b.npy',
  );
  assert.deepEqual(Array.from(m.data), [1, 2, 3, 4]);
  const f4 = new Uint8Array(new Float32Array([1, 2, 3, 4]).buffer);
  const cases: [string, Uint8Array, string][] = [
    ['short', new Uint8Array(5), 'truncated'],
    ['magic', new Uint8Array(20), 'unsupported-format'],
    ['version', npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }", f4, 9), 'unsupported'],
    ['int', npy("{'descr': '<i4', 'fortran_order': False, 'shape': (2, 2), }", f4), 'unsupported'],
    ['object', npy("{'descr': '|O', 'fortran_order': False, 'shape': (2, 2), }", f4), 'unsupported'],
    ['3-D', npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2, 2), }", f4), 'corrupt'],
    [
      'huge',
      npy("{'descr': '<f4', 'fortran_order': False, 'shape': (999999999, 999999999), }", f4),
      'truncated',
    ],
    ['short data', npy("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 3), }", f4), 'truncated'],
    ['extra data', npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2), }", f4), 'corrupt'],
    ['negative', npy("{'descr': '<f4', 'fortran_order': False, 'shape': (-2, -2), }", f4), 'corrupt'],
    ['no shape', npy("{'descr': '<f4', 'fortran_order': False}", f4), 'corrupt'],
  ];
  for (const [what, bytes, code] of cases) {
    assert.throws(
      () => parseNpyMatrix(bytes, 'x.npy'),
      (e: unknown) => isFilterDbError(e) && e.code === code && e.message.startsWith('x.npy:'),
      what,
    );
  }
  // a header length past the end of the file
  const lying = npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }", f4);
  new DataView(lying.buffer).setUint16(8, 60000, true);
  assert.throws(
    () => parseNpyMatrix(lying, 'x.npy'),
    (e: unknown) => isFilterDbError(e) && e.code === 'truncated',
  );
});

test('energy CLI: wrong-size, non-square, NaN and missing bases are clear errors (exit 1)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fdb-energy-'));
  try {
    const nan = join(dir, 'nan.npy');
    const d = new Uint8Array(new Float64Array(9).fill(Number.NaN).buffer);
    writeFileSync(nan, npy("{'descr': '<f8', 'fortran_order': False, 'shape': (3, 3), }", d));
    const rect = join(dir, 'rect.npy');
    writeFileSync(rect, npy("{'descr': '<f8', 'fortran_order': False, 'shape': (9, 1), }", d));
    const model = dataPath('energy/rgb_stem.safetensors');
    const expect: [string, RegExp][] = [
      [dataPath('energy/basis9_fortran.npy'), /has 9 vectors but .* 75-dimensional patch space/],
      [nan, /NaN or infinite/],
      [rect, /square/],
      [join(dir, 'absent.npy'), /absent\.npy: cannot read the basis: no such file/],
    ];
    for (const [basis, re] of expect) {
      const r = runCli(['energy', model, '--basis', basis]);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, re);
    }
    const both = runCli(['energy', model, '--db', join(dir, 'x.duckdb')]);
    assert.equal(both.code, 2);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('energy --db: first layers rebuilt from stored filters equal the file results (float32), correlation matrix', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fdb-energy-db-'));
  try {
    const db3 = join(dir, 'z3.duckdb');
    const files = [dataPath('digits_cnn.safetensors'), dataPath('energy/rgb_stem.safetensors')];
    assert.equal(runCli(['ingest', ...files, '--db', db3]).code, 0);
    // default ingest stores 3x3 filters only: the 5x5 stem cannot be rebuilt, and the user is told so
    const r3 = runCli(['energy', '--db', db3, '--json']);
    assert.equal(r3.code, 0, r3.stderr);
    const o3 = JSON.parse(r3.stdout) as {
      models: { model: string }[];
      skipped: { model: string; reason: string }[];
    };
    assert.deepEqual(
      o3.models.map((m) => m.model),
      ['digits_cnn'],
    );
    assert.match(o3.skipped[0].reason, /5x5 filters are not stored .*--kernel all/);
    assert.match(r3.stderr, /rgb_stem: skipped/);

    const dbAll = join(dir, 'all.duckdb');
    const init = dataPath('energy/rgb_stem_init.safetensors');
    assert.equal(runCli(['ingest', ...files, init, '--db', dbAll, '--kernel', 'all']).code, 0);
    const r = runCli(['energy', '--db', dbAll, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const o = JSON.parse(r.stdout) as {
      models: { model: string; profile: number[] }[];
      correlation: { models: string[]; matrix: (number | null)[][] };
    };
    assert.equal(o.models.length, 3);
    // the test models are float32, which is how filters are stored: the rebuilt layer is exact
    close(o.models[0].profile, ref.cases['digits_cnn dct'].profile, 1e-9, 'db digits');
    close(o.models[1].profile, ref.cases['rgb_stem dct'].profile, 1e-9, 'db rgb');
    // 9- and 75-dimensional profiles have no correlation; the two 75-dimensional ones have Pearson's
    const r12 = pearson(o.models[1].profile, o.models[2].profile);
    assert.ok(r12 !== null && Math.abs(r12) < 1);
    assert.deepEqual(o.correlation.matrix, [
      [1, null, null],
      [null, 1, r12],
      [null, r12, 1],
    ]);
    const text = runCli(['energy', '--db', dbAll]);
    assert.match(text.stdout, /Pearson correlation/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
