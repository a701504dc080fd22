/**
 * Hostile model files (issue 17): small files that claim huge work. Built by test/data/torch/make.py
 * (gen_blowups) or here; each was a hang, a multi-GB allocation or an untyped crash before.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { readModel } from '../src/formats/detect.js';
import { pytorchReader } from '../src/formats/pytorch.js';
import { qualityReport } from '../src/metrics/layer-report.js';
import { openModelInput } from '../src/node/file-source.js';
import { rejectsWith } from './support/errors.js';
import { convChain, writeOnnx } from './support/onnx-writer.js';
import { dataPath, modulePath, repoRoot } from './support/paths.js';

const cli = `${repoRoot}/dist/src/cli/main.js`;

describe('PyTorch blow-ups (items 2 and 3)', () => {
  it('dag60.pt: 60 levels of shared references are walked once each (was: never finished)', async () => {
    const t0 = performance.now();
    const model = await pytorchReader.read(await openModelInput(dataPath('torch/dag60.pt')));
    assert.ok(performance.now() - t0 < 5000);
    assert.ok(model.layers.some((l) => l.name.endsWith('weight')));
  });

  it('expand20000.pt: a stride-0 view of 20000 filters is measured in bounded memory (was 3.1 GB)', async () => {
    const model = await pytorchReader.read(await openModelInput(dataPath('torch/expand20000.pt')));
    assert.deepEqual(model.layers[0].shape, [20000, 1, 3, 3]);
    const before = process.memoryUsage().rss;
    const report = await qualityReport(model);
    const grown = process.memoryUsage().rss - before;
    // 20000 copies of one filter: every pair is parallel.
    assert.ok(Math.abs(report.layers[0].metrics.orthogonality!) < 1e-9);
    assert.ok(grown < 200 * 2 ** 20, `RSS grew ${grown} bytes`);
  });

  it('expand_huge.pt: 90 M logical weights from 36 bytes are refused before loading', async () => {
    const e = await rejectsWith(
      pytorchReader.read(await openModelInput(dataPath('torch/expand_huge.pt'))),
      'too-large',
    );
    assert.match(e.message, /expand_huge\.pt: conv weight conv\.weight has 90000000 weights/);
  });

  it('inflated.pt: 64 MiB inflated from 65 KB into a [16777216,1,1,1] conv: typed too-large, exit 1', () => {
    const r = spawnSync(process.execPath, [cli, 'quality', dataPath('torch/inflated.pt')], {
      encoding: 'utf8',
    });
    assert.equal(r.status, 1, r.stderr);
    assert.match(
      r.stderr,
      /inflated\.pt: layer conv\.weight: 16777216 output filters .* orthogonality needs/,
    );
  });
});

describe('symlinks that leave the model folder (item 9)', () => {
  async function readAndLoad(path: string): Promise<number> {
    const model = await readModel(await openModelInput(path));
    let n = 0;
    for (const layer of model.layers) n += (await layer.loadWeight()).length;
    return n;
  }

  it('ONNX external data: a link inside the folder is read, one to a file outside is refused', async () => {
    const root = mkdtempSync(join(tmpdir(), 'filterdb-links-'));
    const values = Array.from({ length: 2 * 3 * 3 * 3 }, (_, i) => (i % 7) - 3);
    const weight = {
      name: 'w',
      dims: [2, 3, 3, 3],
      values,
      storage: 'external' as const,
      location: 'model.data',
    };
    const written = writeOnnx(convChain([{ weight }]));
    const dir = join(root, 'model');
    mkdirSync(dir);
    writeFileSync(join(dir, 'model.onnx'), written.bytes);
    writeFileSync(join(dir, 'real.data'), written.external.get('model.data')!);
    symlinkSync('real.data', join(dir, 'model.data'));
    assert.equal(await readAndLoad(join(dir, 'model.onnx')), values.length);

    const outside = join(root, 'secret.bin');
    writeFileSync(outside, written.external.get('model.data')!);
    const evil = join(root, 'evil');
    mkdirSync(evil);
    writeFileSync(join(evil, 'model.onnx'), written.bytes);
    symlinkSync(outside, join(evil, 'model.data'));
    const e = await rejectsWith(readAndLoad(join(evil, 'model.onnx')), 'unsafe');
    assert.match(e.message, /model\.data.*outside the model folder/);
  });

  it('TF.js: a shard linked to /etc/passwd is refused; a link farm (Hugging Face cache layout) is read', async () => {
    const src = modulePath('@upscalerjs/default-model/models');
    const root = mkdtempSync(join(tmpdir(), 'filterdb-links-'));
    const evil = join(root, 'evil');
    mkdirSync(evil);
    copyFileSync(join(src, 'model.json'), join(evil, 'model.json'));
    symlinkSync('/etc/passwd', join(evil, 'group1-shard1of1.bin'));
    await rejectsWith(readAndLoad(evil), 'unsafe');

    // snapshots/rev/{model.json, shard} → ../../blobs/<hash>: the main file's own folder is the blobs folder.
    const blobs = join(root, 'blobs');
    const snap = join(root, 'snapshots', 'rev');
    mkdirSync(blobs);
    mkdirSync(snap, { recursive: true });
    copyFileSync(join(src, 'model.json'), join(blobs, 'aaa'));
    copyFileSync(join(src, 'group1-shard1of1.bin'), join(blobs, 'bbb'));
    symlinkSync('../../blobs/aaa', join(snap, 'model.json'));
    symlinkSync('../../blobs/bbb', join(snap, 'group1-shard1of1.bin'));
    assert.ok((await readAndLoad(join(snap, 'model.json'))) > 0);
  });
});
