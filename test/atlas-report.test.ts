/**
 * The atlas and energy faces of the HTML reports: the sections are there, every plot has a <title> and a
 * <desc>, and the numbers drawn are the analysis functions' (modelAtlas, energyProfile over the DCT basis,
 * profileCorrelation) — for a model file and for a database (`report --db`).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { atlasInputs, atlasView } from '../src/analysis/atlas-view.js';
import { dctBasis, energyProfile, firstConvLayerIndex, profileCorrelation } from '../src/analysis/energy.js';
import { KERNEL_LABELS, modelAtlas } from '../src/analysis/kernel-atlas.js';
import { readModel } from '../src/formats/detect.js';
import type { Model } from '../src/model/types.js';
import { openModelInput } from '../src/node/file-source.js';
import { modelReportData, renderModelReport } from '../src/report/model-report.js';
import { atlasDepthSvg, atlasExamplesSvg, atlasPrototypesSvg } from '../src/report/svg/atlas.js';
import { fmt, pct } from '../src/report/svg/core.js';
import { energyCorrelationSvg, energyProfileSvg } from '../src/report/svg/energy.js';
import { runCli } from './support/cli.js';
import { dataPath, modulePath } from './support/paths.js';

const FACE = modulePath('@mediapipe/face_detection/face_detection_short_range.tflite');

async function open(file: string): Promise<Model> {
  return readModel(await openModelInput(file));
}

/** The section's HTML (from its opening tag to the next section). */
function section(html: string, id: string): string {
  const start = html.indexOf(`<section id="${id}">`);
  assert.ok(start >= 0, `section ${id}`);
  const end = html.indexOf('<section id=', start + 10);
  return html.slice(start, end < 0 ? undefined : end);
}

/** Every root <svg>…</svg> of a piece of HTML has a <title> and a <desc> right after its opening tag. */
function assertAccessible(html: string, what: string): number {
  const svgs = html.match(/<svg [^>]*>(<title>[^<]*<\/title>)?(<desc>[^<]*<\/desc>)?/g) ?? [];
  assert.ok(svgs.length > 0, `${what}: no plots`);
  for (const s of svgs) {
    assert.match(s, /<title>[^<]+<\/title>/, `${what}: a plot without <title>: ${s.slice(0, 120)}`);
    assert.match(s, /<desc>[^<]+<\/desc>/, `${what}: a plot without <desc>: ${s.slice(0, 120)}`);
  }
  return svgs.length;
}

describe('atlas and energy in the model report', () => {
  it('a MobileNet-style model: the shares, examples and energy drawn are the analysis functions’', async () => {
    const model = await open(FACE);
    const data = await modelReportData(model, { spectral: false });
    const inputs = await atlasInputs(model.layers);
    const atlas = modelAtlas(inputs);
    assert.ok(atlas.kernelCount > 500);
    assert.deepEqual(data.atlas, atlasView(inputs, atlas));
    assert.deepEqual(data.atlas!.shares, atlas.shares);

    const first = model.layers[firstConvLayerIndex(model.layers)];
    const [, c, kh, kw] = first.shape;
    const expected = energyProfile(await first.loadWeight(), dctBasis(c, kh, kw));
    assert.equal(data.energy!.layer, first.name);
    assert.deepEqual(data.energy!.profile, expected.profile);

    const html = renderModelReport(data, { generatedAt: null });
    const a = section(html, 'atlas');
    const e = section(html, 'energy');
    assert.ok(assertAccessible(a, 'atlas') >= 3, 'depth bars, prototypes, examples');
    assertAccessible(e, 'energy');
    // the headline share and every layer row are modelAtlas's numbers
    assert.ok(a.includes(`<strong>${pct(1 - atlas.shares.unclassified - atlas.shares.flat)}</strong>`));
    for (const l of atlas.layers) {
      const row = new RegExp(
        `<td[^>]*>${l.layer.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}</td><td[^>]*>${l.k}</td><td[^>]*>${l.kernels.length}</td>${KERNEL_LABELS.map((k) => `<td class="num" data-sort="${l.shares[k]}">${pct(l.shares[k]).replace('.', '\\.')}</td>`).join('')}`,
      );
      assert.match(a, row, `row of ${l.layer}`);
    }
    // depth bars: one segment per non-zero share of each bin, with that share in its tooltip
    for (const b of atlas.byDepth)
      for (const l of KERNEL_LABELS)
        if (b.shares[l] > 0)
          assert.ok(a.includes(`${b.bin}: ${l} ${pct(b.shares[l])} of ${b.kernels} kernels`));
    // the strongest basis vector in the energy table is the profile's maximum (1)
    const top = expected.profile.indexOf(1);
    assert.ok(e.includes(`<td>${dctBasis(c, kh, kw).labels[top]}</td><td class="num" data-sort="${top}">`));
  });

  it('examples are the stored kernels, highest score first; prototypes for every pattern', async () => {
    const model = await open(FACE);
    const inputs = await atlasInputs(model.layers);
    const view = atlasView(inputs, modelAtlas(inputs), { examples: 5 });
    const size = view.sizes[0];
    for (const p of size.patterns) {
      assert.ok(p.examples.length <= 5);
      for (let i = 1; i < p.examples.length; i++) assert.ok(p.examples[i - 1].score >= p.examples[i].score);
      for (const ex of p.examples) {
        const layer = inputs.find((l) => l.layer === ex.layer)!;
        const kk = size.k * size.k;
        assert.deepEqual(
          ex.kernel,
          Array.from(layer.weight ?? []).slice(ex.channel * kk, (ex.channel + 1) * kk),
        );
      }
      if (p.label === 'unclassified') assert.equal(p.prototype, null);
      else assert.equal(p.prototype!.length, size.k * size.k);
    }
    const protos = atlasPrototypesSvg(size);
    assert.equal((protos.match(/class="fdb-proto"/g) ?? []).length, 5);
    const examples = atlasExamplesSvg(size);
    assert.equal(
      (examples.match(/class="fdb-example"/g) ?? []).length,
      size.patterns.reduce((s, p) => s + p.examples.length, 0),
    );
  });

  it('a model without depthwise layers gets the energy section and no atlas', async () => {
    const model = await open(dataPath('digits_cnn.onnx'));
    const data = await modelReportData(model, { spectral: false });
    assert.equal(data.atlas, null);
    const html = renderModelReport(data, { generatedAt: null });
    assert.ok(!html.includes('<section id="atlas">'));
    assertAccessible(section(html, 'energy'), 'energy');
  });
});

describe('atlas and energy plots', () => {
  it('stacked depth bars are proportional to the shares; the correlation heat-map shows r', () => {
    const shares = Object.fromEntries(KERNEL_LABELS.map((l) => [l, 0])) as Record<
      (typeof KERNEL_LABELS)[number],
      number
    >;
    const svg = atlasDepthSvg(
      [{ bin: '[0.0, 0.1]', kernels: 4, shares: { ...shares, edge: 0.75, unclassified: 0.25 } }],
      { height: 260 },
    );
    const h = (label: string) =>
      Number(new RegExp(`data-label="${label}"[^>]*height="([\\d.]+)"`).exec(svg)![1]);
    assert.ok(Math.abs(h('edge') / h('unclassified') - 3) < 0.02);
    const corr = energyCorrelationSvg({
      models: ['a', 'b', 'c'],
      matrix: [
        [1, -0.5, null],
        [-0.5, 1, null],
        [null, null, 1],
      ],
    });
    assert.match(corr, /<desc>[^<]*a vs b: -0\.5/);
    assert.ok(corr.includes('a vs b: -0.5'));
    assert.ok(corr.includes('Pearson r'));
    assert.match(energyProfileSvg([{ label: 'm', profile: [1, 0.1, 0.01] }]), /<desc>[^<]+<\/desc>/);
  });
});

describe('atlas and energy in the database report', () => {
  it('report --db: per-model shares and the correlation matrix equal the file analyses', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'filterdb-atlas-report-'));
    try {
      const db = join(dir, 'zoo.duckdb');
      const files = [dataPath('digits_cnn.onnx'), dataPath('digits_dwsep.onnx')];
      const ing = runCli(['ingest', ...files, '--db', db]);
      assert.equal(ing.code, 0, ing.stderr);
      const out = join(dir, 'zoo.html');
      const r = runCli(['report', '--db', db, '--out', out]);
      assert.equal(r.code, 0, r.stderr);
      const html = readFileSync(out, 'utf8');
      const a = section(html, 'atlas');
      const e = section(html, 'energy');
      assertAccessible(a, 'atlas');
      assertAccessible(e, 'energy');

      const models = await Promise.all(files.map(open));
      const dw = modelAtlas(await atlasInputs(models[1].layers));
      assert.ok(dw.kernelCount > 0);
      const row = new RegExp(
        `<td[^>]*>digits_dwsep</td><td[^>]*>${dw.kernelCount}</td>${KERNEL_LABELS.map((k) => `<td class="num" data-sort="${dw.shares[k]}">`).join('[^<]*</td>')}`,
      );
      assert.match(a, row);

      const profiles = [];
      for (const m of models) {
        const l = m.layers[firstConvLayerIndex(m.layers)];
        profiles.push(
          energyProfile(await l.loadWeight(), dctBasis(l.shape[1], l.shape[2], l.shape[3])).profile,
        );
      }
      const corr = profileCorrelation(profiles);
      assert.ok(corr[0][1] !== null);
      assert.ok(e.includes(`digits_cnn vs digits_dwsep: ${fmt(corr[0][1], 4)}`), 'the heat-map cell is r');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
