/**
 * prune-plan (src/metrics/prune.ts, src/formats/io/npz.ts): filter scores against numpy/scipy
 * (test/data/prune/make_expected.py) to 1e-9, the plan's rules (dead filters first, never a whole layer,
 * quotas, depthwise layers with their producer), and the .npz mask read back by our own parser and — where a
 * python3 with numpy is installed — by numpy.load itself.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { unzipSync } from 'fflate';
import { readModel } from '../src/formats/detect.js';
import { encodeNpy } from '../src/formats/io/npz.js';
import { filterScores, keepMask, prunePlan, rankFilters } from '../src/metrics/prune.js';
import type { ConvLayer } from '../src/model/types.js';
import { openModelInput } from '../src/node/file-source.js';
import { convLayer } from './support/conv-layer.js';
import { dataPath, repoRoot } from './support/paths.js';
import { mulberry32 } from './support/random.js';

interface Case {
  shape: number[];
  l1: number[];
  l2: number[];
  fpgm: number[];
}

const expected = JSON.parse(readFileSync(dataPath('prune/expected.json'), 'utf8')) as Record<string, Case>;

function closeAll(actual: Float64Array, want: number[], what: string): void {
  assert.equal(actual.length, want.length, what);
  for (let i = 0; i < want.length; i++) {
    const err = Math.abs(actual[i] - want[i]) / Math.max(1, Math.abs(want[i]));
    assert.ok(err <= 1e-9, `${what}[${i}]: ${actual[i]} vs ${want[i]}`);
  }
}

const layer = (name: string, shape: number[], w: Float32Array, extra: Partial<ConvLayer> = {}): ConvLayer =>
  convLayer(name, shape, w, extra);

function random(n: number, seed: number): Float32Array {
  const r = mulberry32(seed);
  return Float32Array.from({ length: n }, () => r() - 0.5);
}

describe('filter scores vs numpy / scipy', () => {
  it('every conv of digits_cnn.safetensors', async () => {
    const model = await readModel(await openModelInput(dataPath('digits_cnn.safetensors')));
    for (const l of model.layers) {
      const c = expected[`digits_cnn.safetensors:${l.name}`];
      const s = filterScores(await l.loadWeight(), l.shape);
      closeAll(s.l1, c.l1, `${l.name} l1`);
      closeAll(s.l2, c.l2, `${l.name} l2`);
      closeAll(s.fpgm, c.fpgm, `${l.name} fpgm`);
    }
  });
  for (const [key, c] of Object.entries(expected)) {
    if (!key.endsWith('.bin')) continue;
    it(key, () => {
      const bytes = readFileSync(dataPath(key));
      const w = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
      const s = filterScores(w, c.shape);
      closeAll(s.l1, c.l1, 'l1');
      closeAll(s.l2, c.l2, 'l2');
      closeAll(s.fpgm, c.fpgm, 'fpgm');
    });
  }
});

describe('plans', () => {
  const shape = [10, 4, 3, 3];
  const w = random(360, 1);
  w.fill(0, 3 * 36, 4 * 36); // filter 3 dead (all zero)
  for (let k = 7 * 36; k < 8 * 36; k++) w[k] *= 1e-3; // filter 7 dead (below 1% of max)

  it('dead filters come first, then the lowest scores; per-layer quota ⌊ratio·out⌋', async () => {
    const s = filterScores(w, shape);
    assert.deepEqual(
      [...s.dead.keys()].filter((j) => s.dead[j]),
      [3, 7],
    );
    const order = rankFilters(s.l1, s.dead);
    assert.deepEqual(order.slice(0, 2).sort(), [3, 7]);
    const plan = await prunePlan([layer('a', shape, w)], { criterion: 'l1', ratio: 0.3, perLayer: true });
    assert.equal(plan.layers[0].prune.length, 3);
    assert.ok(plan.layers[0].prune.includes(3) && plan.layers[0].prune.includes(7));
    assert.deepEqual(
      plan.layers[0].prune,
      order.slice(0, 3).sort((a, b) => a - b),
    );
    assert.equal(plan.layers[0].paramsRemoved, 3 * 36);
    const mask = keepMask(plan.layers[0]);
    assert.equal(mask.length, 360);
    assert.equal(mask[3 * 36], 0);
    assert.equal(
      mask.reduce((a, b) => a + b, 0),
      7 * 36,
    );
  });

  it('dead filters are pruned even beyond the ratio, but never a whole layer', async () => {
    const dead = new Float32Array(4 * 9);
    dead[0] = 1; // one live filter, three dead
    const plan = await prunePlan([layer('d', [4, 1, 3, 3], dead)], {
      criterion: 'l2',
      ratio: 0,
      perLayer: true,
    });
    assert.deepEqual(plan.layers[0].prune, [1, 2, 3]);
    const all = await prunePlan([layer('z', [4, 1, 3, 3], new Float32Array(36))], {
      criterion: 'fpgm',
      ratio: 0.9,
      perLayer: false,
    });
    assert.equal(all.layers[0].prune.length, 3, 'an all-zero layer keeps one filter');
  });

  it('global ratio ranks layer-normalised scores across layers', async () => {
    const a = random(8 * 9, 2);
    const b = random(24 * 9, 3).map((v) => v * 100); // 100× the scale: raw norms would prune only layer a
    const plan = await prunePlan([layer('a', [8, 1, 3, 3], a), layer('b', [24, 1, 3, 3], b)], {
      criterion: 'l1',
      ratio: 0.25,
      perLayer: false,
    });
    assert.equal(plan.totals.pruned, 8);
    assert.ok(plan.layers[1].prune.length > 0, 'the large-scale layer loses filters too');
  });

  it('depthwise layers follow their producer', async () => {
    const producer = layer('pw', [6, 4, 1, 1], random(24, 4), { convDepth: 0 });
    const dw = layer('dw', [12, 1, 3, 3], random(108, 5), { kind: 'depthwise', groups: 6, convDepth: 1 });
    const plan = await prunePlan([producer, dw], { criterion: 'l1', ratio: 0.34, perLayer: true });
    const [p, d] = plan.layers;
    assert.equal(d.producer, 'pw');
    assert.equal(d.scores, null);
    assert.deepEqual(
      d.prune,
      p.prune.flatMap((c) => [2 * c, 2 * c + 1]),
      'channel c of a multiplier-2 depthwise layer is filters 2c, 2c+1',
    );
  });
});

describe('.npz masks', () => {
  it('.npy headers are numpy format 1.0, 64-byte aligned', () => {
    const npy = encodeNpy({ dtype: 'bool', shape: [2, 3], data: Uint8Array.from([1, 0, 1, 1, 1, 0]) });
    assert.deepEqual([...npy.subarray(0, 8)], [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
    const len = npy[8] | (npy[9] << 8);
    assert.equal((10 + len) % 64, 0);
    const header = new TextDecoder().decode(npy.subarray(10, 10 + len));
    assert.match(header, /^\{'descr': '\|b1', 'fortran_order': False, 'shape': \(2, 3\), \} *\n$/);
    assert.deepEqual([...npy.subarray(10 + len)], [1, 0, 1, 1, 1, 0]);
  });

  it('prune-plan --mask writes one array per conv, keyed by the layer name (CLI)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'filterdb-prune-'));
    const out = join(dir, 'mask.npz');
    const cli = join(repoRoot, 'dist/src/cli/main.js');
    const r = spawnSync(
      process.execPath,
      [cli, 'prune-plan', dataPath('digits_dwsep.onnx'), '--ratio', '0.25', '--json', '--mask', out],
      { encoding: 'utf8' },
    );
    assert.equal(r.status, 0, r.stderr);
    const plan = JSON.parse(r.stdout) as { layers: { name: string; shape: number[]; prune: number[] }[] };
    const files = unzipSync(readFileSync(out));
    assert.deepEqual(Object.keys(files).sort(), plan.layers.map((l) => `${l.name}.npy`).sort());
    for (const l of plan.layers) {
      const npy = files[`${l.name}.npy`];
      const len = npy[8] | (npy[9] << 8);
      const data = npy.subarray(10 + len);
      const per = l.shape.slice(1).reduce((a, b) => a * b, 1);
      assert.equal(data.length, l.shape[0] * per);
      for (let j = 0; j < l.shape[0]; j++)
        assert.equal(data[j * per], l.prune.includes(j) ? 0 : 1, `${l.name} filter ${j}`);
    }

    // numpy.load reads it unchanged (Debian's python3-numpy in CI; any python3 with numpy here)
    const python = ['python3', '/usr/bin/python3'].find(
      (p) => spawnSync(p, ['-c', 'import numpy'], { encoding: 'utf8' }).status === 0,
    );
    if (!python) {
      console.log('# skipped numpy.load check: no python3 with numpy here (apt-get install python3-numpy)');
      return;
    }
    const script = join(dir, 'check.py');
    writeFileSync(
      script,
      [
        'import json, sys, numpy as np',
        'z = np.load(sys.argv[1])',
        'plan = json.load(open(sys.argv[2]))',
        'assert sorted(z.files) == sorted(l["name"] for l in plan["layers"]), z.files',
        'for l in plan["layers"]:',
        '    m = z[l["name"]]',
        '    assert m.dtype == np.bool_ and list(m.shape) == l["shape"], (m.dtype, m.shape)',
        '    pruned = np.flatnonzero(~m.reshape(m.shape[0], -1).all(1)).tolist()',
        '    assert pruned == l["prune"], (pruned, l["prune"])',
        '    assert m.reshape(m.shape[0], -1).any(1).sum() == m.shape[0] - len(l["prune"])',
        'print("ok", len(z.files))',
      ].join('\n'),
    );
    writeFileSync(join(dir, 'plan.json'), r.stdout);
    const py = spawnSync(python, [script, out, join(dir, 'plan.json')], { encoding: 'utf8' });
    assert.equal(py.status, 0, py.stderr);
    assert.match(py.stdout, /^ok 9/);
  });
});
