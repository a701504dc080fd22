import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { inflateSync } from 'node:zlib';
import { Density2d } from '../src/analysis/density2d.js';
import { depthDecile } from '../src/analysis/groups.js';
import {
  gaussianKde,
  histogramStats,
  kdeFromHistogram,
  linspace,
  silvermanBandwidth,
  trapezoid,
} from '../src/analysis/kde.js';
import { readModel } from '../src/formats/detect.js';
import { qualityReport } from '../src/metrics/layer-report.js';
import { openModelInput } from '../src/node/file-source.js';
import { htmlTable, renderHtmlPage } from '../src/report/html.js';
import { modelReportData, modelReportHtml, renderModelReport } from '../src/report/model-report.js';
import { densitySvg } from '../src/report/svg/density.js';
import { driftBoxplotSvg, driftHeatmapSvg } from '../src/report/svg/drift.js';
import { filterGridSvg, rgbFilterGridSvg } from '../src/report/svg/filters.js';
import { metricCurvesSvg } from '../src/report/svg/metrics.js';
import { cumulativeVarianceSvg, eigenImagesSvg } from '../src/report/svg/pca.js';
import { base64, encodeIndexedPng } from '../src/report/svg/png.js';
import { ridgeGridSvg, ridgePlotSvg } from '../src/report/svg/ridge.js';
import { renderZooReport, type ZooModel, zooReportData } from '../src/report/zoo-report.js';
import { dataPath, repoRoot } from './support/paths.js';
import { gaussian, rng, syntheticGroupings, syntheticZoo } from './support/synthetic-zoo.js';

const run = promisify(execFile);
const cli = join(repoRoot, 'dist/src/cli/main.js');

/**
 * A small XML well-formedness check (enough for generated SVG): every tag closes in order, attributes are
 * quoted and unique, text holds no raw "<", and every "&" starts a known entity or a character reference.
 */
function assertWellFormed(xml: string, what = 'svg'): void {
  const stack: string[] = [];
  const tag = /<(\/?)([A-Za-z][\w:.-]*)((?:\s+[\w:.-]+\s*=\s*(?:"[^"<]*"|'[^'<]*'))*)\s*(\/?)>/y;
  let i = 0;
  const checkText = (s: string, where: number) => {
    const bad = /&(?!(?:amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);)/.exec(s);
    assert.equal(bad, null, `${what}: bare "&" at ${where + (bad?.index ?? 0)}: ${s.slice(0, 80)}`);
  };
  while (i < xml.length) {
    const lt = xml.indexOf('<', i);
    if (lt < 0) {
      checkText(xml.slice(i), i);
      break;
    }
    checkText(xml.slice(i, lt), i);
    tag.lastIndex = lt;
    const m = tag.exec(xml);
    assert.ok(m, `${what}: malformed tag at ${lt}: ${xml.slice(lt, lt + 80)}`);
    const [whole, close, name, attrs, selfClose] = m;
    const names = [...attrs.matchAll(/([\w:.-]+)\s*=/g)].map((a) => a[1]);
    assert.equal(new Set(names).size, names.length, `${what}: duplicate attribute in ${whole.slice(0, 80)}`);
    checkText(attrs, lt);
    if (close) {
      assert.equal(stack.pop(), name, `${what}: </${name}> closes the wrong element at ${lt}`);
    } else if (!selfClose) {
      stack.push(name);
    }
    i = lt + whole.length;
  }
  assert.deepEqual(stack, [], `${what}: unclosed elements ${stack.join(', ')}`);
}

/** No NaN/Infinity/undefined leaked into any attribute value. */
function assertCleanAttributes(svg: string): void {
  const bad = /="[^"]*(?:NaN|Infinity|undefined)[^"]*"/.exec(svg);
  assert.equal(bad, null, `bad attribute value: ${bad?.[0]}`);
}

function checkSvg(svg: string, what: string): void {
  assert.ok(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"'), `${what}: starts with <svg`);
  assert.ok(svg.endsWith('</svg>'), `${what}: ends with </svg>`);
  assertWellFormed(svg, what);
  assertCleanAttributes(svg);
}

/** Every inline <svg> of an HTML page, checked. */
function checkPageSvgs(html: string): number {
  const svgs = html.match(/<svg[\s\S]*?<\/svg>/g) ?? [];
  for (const [i, s] of svgs.entries()) checkSvg(s, `page svg #${i}`);
  return svgs.length;
}

function randomWeights(n: number, seed: number, scale = 0.2): Float32Array {
  const r = rng(seed);
  return Float32Array.from({ length: n }, () => gaussian(r) * scale);
}

const HOSTILE = '<script>alert("x")</script>';

function sampleMatrix(g: number): number[][] {
  return Array.from({ length: g }, (_, a) =>
    Array.from({ length: g }, (_, b) => (a === b ? 0 : 0.05 * (1 + Math.abs(a - b)) + 0.01 * ((a + b) % 3))),
  );
}

function sampleCurves(labels: string[]) {
  const x = linspace(-2, 2, 1024);
  return labels.map((label, i) => ({
    label,
    x,
    y: x.map((v) => Math.exp(-((v - 0.2 * i) ** 2) / 0.3) / Math.sqrt(0.3 * Math.PI)),
    n: 100,
  }));
}

const COMPONENTS = Array.from({ length: 9 }, (_, i) =>
  Array.from({ length: 9 }, (_, j) => (i === j ? 0.9 : 0.1 * Math.sin(i + j))),
);
const EVR = [0.35, 0.2, 0.12, 0.09, 0.08, 0.06, 0.05, 0.03, 0.02];

describe('plot functions produce well-formed SVG', () => {
  it('filter grid (matrix and flow layouts, per-filter scaling, note when capped)', () => {
    const w = randomWeights(32 * 16 * 9, 1);
    const matrix = filterGridSvg(w, [32, 16, 3, 3], { title: 'conv2' });
    checkSvg(matrix, 'filter grid matrix');
    assert.match(matrix, /<title>output 0, input 0: max \|w\|/);
    checkSvg(filterGridSvg(w, [32, 16, 3, 3], { scale: 'filter', layout: 'flow' }), 'filter grid flow');
    const capped = filterGridSvg(w, [32, 16, 3, 3], { maxFilters: 64 });
    assert.match(capped, /64 of 512 filters/);
    checkSvg(filterGridSvg(randomWeights(8 * 4 * 25, 2), [8, 4, 5, 5]), 'filter grid 5x5');
    checkSvg(filterGridSvg(randomWeights(16, 2), [16, 1, 1, 1]), 'filter grid 1x1');
  });
  it('RGB view of a first layer', () => {
    const svg = rgbFilterGridSvg(randomWeights(24 * 3 * 49, 3), [24, 3, 7, 7], { title: 'RGB' });
    checkSvg(svg, 'rgb grid');
    assert.match(svg, /channels → R, G, B/);
    checkSvg(rgbFilterGridSvg(randomWeights(16 * 9, 3), [16, 1, 3, 3]), 'rgb grid on a 1-channel layer');
  });
  it('eigen-images and cumulative explained variance', () => {
    const e = eigenImagesSvg(COMPONENTS, EVR, { title: 'Eigen-images' });
    checkSvg(e, 'eigen');
    assert.match(e, /35\.0%/);
    assert.equal((e.match(/>PC\d</g) ?? []).length, 9);
    checkSvg(cumulativeVarianceSvg(EVR, { title: 'cum' }), 'cumvar');
    checkSvg(
      cumulativeVarianceSvg([
        { label: 'a', values: EVR },
        { label: 'b', values: [...EVR].reverse() },
      ]),
      'cumvar multi',
    );
  });
  it('metric curves mark degenerated layers and draw thresholds', () => {
    const layers = Array.from({ length: 8 }, (_, i) => ({
      name: `conv${i}`,
      convDepth: i,
      shape: [16, 16, i === 3 ? 1 : 3, i === 3 ? 1 : 3],
      metrics: {
        sparsity: i === 5 ? 0.3 : 0.01,
        varianceEntropyNorm: i === 6 ? null : 0.6 + 0.06 * i,
        orthogonality: 0.8,
      },
      flags: i === 5 ? [{ id: 'sparse', reason: '30% near zero' }] : [],
    }));
    const svg = metricCurvesSvg(layers, { title: 'metrics' });
    checkSvg(svg, 'metric curves');
    assert.match(svg, /class="fdb-flagmark"/);
    assert.match(svg, /low diversity 0\.5/);
    assert.match(svg, /not shown \(only calibrated for 3×3 kernels\)/);
    assert.match(svg, /variance entropy \(norm\.\) undefined/);
  });
  it('drift heat-map with values, colour bar and rotated long labels', () => {
    const groups = ['Classification', 'Segmentation', 'Detection', 'Denoising'];
    const svg = driftHeatmapSvg(
      { groups, matrix: sampleMatrix(4), counts: [10, 20, 30, 40], by: 'Task' },
      { title: 'drift' },
    );
    checkSvg(svg, 'heatmap');
    assert.match(svg, /rotate\(-45/);
    assert.match(svg, /sym\. KL/);
    assert.match(svg, />0\.11</); // values printed in cells
    const many = Array.from({ length: 30 }, (_, i) => `g${i}`);
    const big = driftHeatmapSvg({ groups: many, matrix: sampleMatrix(30) });
    checkSvg(big, 'heatmap 30');
    assert.doesNotMatch(big, /pointer-events:none">0\.\d/); // no values in cells for many groups
  });
  it('drift boxplots of several matrices', () => {
    const svg = driftBoxplotSvg(
      [
        { label: 'Task', matrix: sampleMatrix(4) },
        { label: 'depth', matrix: sampleMatrix(10) },
        { label: 'values', values: [0.1, 0.2, 0.9] },
      ],
      { title: 'box' },
    );
    checkSvg(svg, 'boxplot');
    assert.equal((svg.match(/class="fdb-box"/g) ?? []).length, 3);
  });
  it('ridge plot and ridge small multiples', () => {
    const curves = sampleCurves(['a', 'b', 'c', 'd']);
    checkSvg(ridgePlotSvg(curves, { title: 'ridge' }), 'ridge');
    checkSvg(ridgePlotSvg(curves, { normalise: 'each' }), 'ridge each');
    const grid = ridgeGridSvg(
      Array.from({ length: 9 }, (_, i) => ({ title: `c${i + 1}`, curves })),
      { title: 'grid' },
    );
    checkSvg(grid, 'ridge grid');
    assert.equal((grid.match(/style="fill:none;stroke:#/g) ?? []).length, 36); // one outline per ridge
  });
  it('2-D density as an embedded PNG with a log colour bar', () => {
    const d = new Density2d({ size: 64 });
    const r = rng(5);
    const rows = new Float64Array(2000 * 9);
    for (let i = 0; i < rows.length; i++) rows[i] = gaussian(r) * 0.7;
    d.add(rows, 2000, 9);
    const svg = densitySvg(d.toGrid(), { title: 'density' });
    checkSvg(svg, 'density');
    assert.match(svg, /href="data:image\/png;base64,iVBORw0KGgo/);
    assert.match(svg, /filters \(log\)/);
  });
});

describe('plots escape hostile labels', () => {
  const groups = [HOSTILE, 'a & b', 'it\'s "quoted"'];
  const checks: [string, string][] = [
    ['heatmap', driftHeatmapSvg({ groups, matrix: sampleMatrix(3), by: HOSTILE }, { title: HOSTILE })],
    ['boxplot', driftBoxplotSvg([{ label: HOSTILE, matrix: sampleMatrix(3) }], { title: HOSTILE })],
    ['ridge', ridgePlotSvg(sampleCurves(groups), { title: HOSTILE, xLabel: HOSTILE })],
    ['ridge grid', ridgeGridSvg([{ title: HOSTILE, curves: sampleCurves(groups) }])],
    [
      'metrics',
      metricCurvesSvg([
        {
          name: HOSTILE,
          metrics: { sparsity: 0.5, varianceEntropyNorm: 0.2, orthogonality: 0.1 },
          flags: [{ id: 'sparse', reason: HOSTILE }],
        },
      ]),
    ],
    ['filter grid', filterGridSvg(randomWeights(36, 1), [4, 1, 3, 3], { title: HOSTILE, subtitle: HOSTILE })],
    ['eigen', eigenImagesSvg(COMPONENTS, EVR, { title: HOSTILE })],
  ];
  for (const [what, svg] of checks) {
    it(what, () => {
      checkSvg(svg, what);
      assert.ok(!svg.includes('<script'), `${what} contains a raw <script>`);
      assert.ok(svg.includes('&lt;script&gt;'), `${what} lacks the escaped label`);
    });
  }
  it('HTML tables and pages', () => {
    const t = htmlTable([{ header: HOSTILE }], [[HOSTILE], [{ html: '<b>ok</b>', sort: HOSTILE }]]);
    assert.ok(!t.includes('<script'));
    const page = renderHtmlPage({ title: HOSTILE, sections: [{ id: 'x"y', title: HOSTILE, body: t }] });
    assert.equal((page.match(/<script/g) ?? []).length, 1, 'only the page’s own script');
    assert.match(page, /<title>&lt;script&gt;/);
  });
});

describe('plots survive degenerate input', () => {
  it('one group, no pairs', () => {
    const h = driftHeatmapSvg({ groups: ['only'], matrix: [[0]] });
    checkSvg(h, 'heatmap 1');
    const b = driftBoxplotSvg([{ label: 'Task', matrix: [[0]] }]);
    checkSvg(b, 'boxplot 1');
    assert.match(b, /no pairs/);
    checkSvg(driftHeatmapSvg({ groups: [], matrix: [] }), 'heatmap 0');
    checkSvg(driftBoxplotSvg([]), 'boxplot 0');
  });
  it('empty and malformed layers', () => {
    const empty = filterGridSvg(new Float32Array(0), [0, 3, 3, 3]);
    checkSvg(empty, 'empty grid');
    assert.match(empty, /empty layer/);
    checkSvg(filterGridSvg(new Float32Array(5), [4, 1, 3, 3]), 'short weight');
    checkSvg(filterGridSvg(new Float32Array(9), [1, 9]), '1-D conv');
    checkSvg(rgbFilterGridSvg(new Float32Array(0), [0, 3, 3, 3]), 'empty rgb');
    checkSvg(metricCurvesSvg([]), 'no layers');
    checkSvg(eigenImagesSvg([], []), 'no components');
    checkSvg(cumulativeVarianceSvg([]), 'no evr');
    checkSvg(ridgePlotSvg([]), 'no curves');
    checkSvg(ridgeGridSvg([]), 'no panels');
    checkSvg(
      densitySvg({ counts: new Float64Array(4), nx: 2, ny: 2, x: [0, 1], y: [0, 1] }),
      'empty density',
    );
  });
  it('NaN and infinite values never reach attributes', () => {
    const w = randomWeights(16 * 9, 4);
    w[0] = Number.NaN;
    w[10] = Number.POSITIVE_INFINITY;
    w[20] = Number.NEGATIVE_INFINITY;
    const g = filterGridSvg(w, [16, 1, 3, 3]);
    checkSvg(g, 'grid with NaN');
    assert.match(g, /non-finite values/);
    checkSvg(filterGridSvg(w, [16, 1, 3, 3], { scale: 'filter' }), 'grid with NaN, per filter');
    const rgbW = randomWeights(4 * 27, 4);
    rgbW[3] = Number.NaN;
    checkSvg(rgbFilterGridSvg(rgbW, [4, 3, 3, 3]), 'rgb with NaN');
    checkSvg(filterGridSvg(new Float32Array(9).fill(Number.NaN), [1, 1, 3, 3]), 'all NaN');
    checkSvg(filterGridSvg(new Float32Array(18), [2, 1, 3, 3]), 'all zero');
    const m = sampleMatrix(3);
    m[0][1] = Number.NaN;
    m[1][2] = Number.POSITIVE_INFINITY;
    checkSvg(driftHeatmapSvg({ groups: ['a', 'b', 'c'], matrix: m }), 'heatmap NaN');
    checkSvg(driftBoxplotSvg([{ label: 'x', matrix: m }]), 'boxplot NaN');
    checkSvg(driftBoxplotSvg([{ label: 'x', values: [Number.NaN] }]), 'boxplot all NaN');
    checkSvg(eigenImagesSvg([[Number.NaN, 1, 2, 3, 4, 5, 6, 7, 8]], [Number.NaN]), 'eigen NaN');
    checkSvg(cumulativeVarianceSvg([Number.NaN, 0.5, Number.NaN]), 'cumvar NaN');
    checkSvg(
      metricCurvesSvg([
        {
          name: 'a',
          metrics: {
            sparsity: Number.NaN,
            varianceEntropyNorm: null,
            orthogonality: Number.POSITIVE_INFINITY,
          },
        },
        { name: 'b', metrics: { sparsity: 0, varianceEntropyNorm: 0.8, orthogonality: null } },
      ]),
      'metrics NaN',
    );
    const x = linspace(-1, 1, 10);
    checkSvg(
      ridgePlotSvg([
        { label: 'n', x, y: x.map(() => Number.NaN) },
        { label: 'z', x, y: new Float64Array(10) },
      ]),
      'ridge NaN',
    );
    const counts = new Float64Array(16);
    counts[3] = Number.NaN;
    counts[5] = 7;
    checkSvg(densitySvg({ counts, nx: 4, ny: 4, x: [0, 1], y: [0, 1] }), 'density NaN');
  });
});

describe('kernel density estimates', () => {
  const r = rng(11);
  const sample = Float64Array.from({ length: 400 }, (_, i) =>
    i % 3 === 0 ? 0.9 + 0.25 * gaussian(r) : -0.4 + 0.5 * gaussian(r),
  );
  const lo = -3.3;
  const hi = 3.3;
  const bins = 2048;
  const counts = new Float64Array(bins);
  for (const v of sample) counts[Math.min(bins - 1, Math.floor(((v - lo) / (hi - lo)) * bins))]++;
  const w = (hi - lo) / bins;

  it('integrates to 1 over the coefficient range', () => {
    const k = kdeFromHistogram(counts, lo, hi);
    assert.equal(k.x.length, 1024);
    assert.ok(Math.abs(trapezoid(k.x, k.y) - 1) < 1e-3, `integral ${trapezoid(k.x, k.y)}`);
  });

  it('uses Silverman’s robust bandwidth, matching the raw sample’s', () => {
    const sorted = [...sample].sort((a, b) => a - b);
    const q = (f: number) => {
      const p = f * (sorted.length - 1);
      return sorted[Math.floor(p)] + (sorted[Math.ceil(p)] - sorted[Math.floor(p)]) * (p - Math.floor(p));
    };
    const mean = sample.reduce((s, v) => s + v, 0) / sample.length;
    const sd = Math.sqrt(sample.reduce((s, v) => s + (v - mean) ** 2, 0) / (sample.length - 1));
    const raw = Math.min(sd, (q(0.75) - q(0.25)) / 1.349) * ((3 * sample.length) / 4) ** -0.2;
    const fromHist = silvermanBandwidth(histogramStats(counts, lo, hi));
    // binning moves each value by at most w/2 and each quartile by about one bin: ≤ 2w/IQR ≈ 1% here
    assert.ok(Math.abs(fromHist - raw) / raw < 0.02, `bandwidth ${fromHist} vs raw ${raw}`);
  });

  it('matches a direct Gaussian KDE within the binning error bound', () => {
    const k = kdeFromHistogram(counts, lo, hi);
    const direct = gaussianKde(sample, k.x, k.bandwidth);
    let maxDiff = 0;
    for (let i = 0; i < k.x.length; i++) maxDiff = Math.max(maxDiff, Math.abs(k.y[i] - direct[i]));
    // Each value sits at most w/2 from its bin centre; a Gaussian kernel's slope is at most
    // φ'(1)/h² = 0.242/h², so no point of the density can move by more than 0.242·(w/2)/h².
    const bound = (0.242 * (w / 2)) / k.bandwidth ** 2;
    assert.ok(maxDiff <= bound, `max diff ${maxDiff} > bound ${bound}`);
    assert.ok(maxDiff < 0.01, `max diff ${maxDiff}`);
  });

  it('is zero for an empty histogram and stays finite for a single spike', () => {
    const empty = kdeFromHistogram(new Float64Array(64), 0, 1);
    assert.ok(empty.y.every((v) => v === 0));
    const spike = new Float64Array(64);
    spike[32] = 5;
    const k = kdeFromHistogram(spike, -1, 1, { points: 512 });
    assert.ok(k.bandwidth > 0 && k.y.every(Number.isFinite));
    assert.ok(Math.abs(trapezoid(k.x, k.y) - 1) < 1e-3);
  });

  it('2-D density counts pairs and the ones outside the grid', () => {
    const d = new Density2d({ size: 8, lo: -1, hi: 1 });
    d.add(Float64Array.of(0, 0, 9, 0.99, -1, 9, 1, 1, 9, 2, 0, 9, Number.NaN, 0, 9), 5, 3);
    assert.equal(d.total, 3);
    assert.equal(d.outside, 2);
    assert.equal(d.counts[4 * 8 + 4], 1);
    assert.equal(d.counts[0 * 8 + 7], 1);
    assert.equal(d.counts[7 * 8 + 7], 1);
  });
});

describe('PNG encoder', () => {
  it('writes a valid indexed PNG whose pixels inflate back', () => {
    const idx = Uint8Array.from({ length: 6 * 4 }, (_, i) => i % 3);
    const png = encodeIndexedPng(
      6,
      4,
      idx,
      [
        [0, 0, 0],
        [255, 0, 0],
        [0, 0, 255],
      ],
      [0],
    );
    assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    const buf = Buffer.from(png);
    const at = buf.indexOf('IDAT');
    const len = buf.readUInt32BE(at - 4);
    const raw = inflateSync(buf.subarray(at + 4, at + 4 + len));
    assert.equal(raw.length, 7 * 4);
    assert.deepEqual([...raw.subarray(1, 7)], [...idx.subarray(0, 6)]);
    assert.equal(base64(png), buf.toString('base64'));
    assert.equal(base64(Uint8Array.of(1, 2)), Buffer.from([1, 2]).toString('base64'));
  });
});

const outDir = join(repoRoot, 'test-output');
function save(name: string, html: string): string {
  mkdirSync(outDir, { recursive: true });
  const p = join(outDir, name);
  writeFileSync(p, html);
  return p;
}

/** With FILTERDB_SCREENSHOTS=1 and Debian's chromium installed, renders a page to PNG beside it. */
async function screenshot(htmlPath: string, height = 3000): Promise<void> {
  if (!process.env.FILTERDB_SCREENSHOTS || !existsSync('/usr/bin/chromium')) return;
  await run(
    '/usr/bin/chromium',
    [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
      '--hide-scrollbars',
      `--screenshot=${htmlPath.replace(/\.html$/, '.png')}`,
      `--window-size=1400,${height}`,
      `file://${htmlPath}`,
    ],
    { timeout: 60_000 },
  );
}

describe('model report', () => {
  it('has every section for digits_cnn.onnx', async () => {
    const model = await readModel(await openModelInput(dataPath('digits_cnn.onnx')));
    const data = await modelReportData(model);
    assert.equal(data.quality.layers.length, 6);
    assert.ok(data.basis, 'a basis of the 3x3 filters');
    assert.equal(data.basisFilters, 16 + 256 + 512 + 1024 * 3);
    const html = renderModelReport(data, { generatedAt: null });
    for (const id of ['layers', 'metrics', 'filters', 'basis'])
      assert.match(html, new RegExp(`<section id="${id}">`), `section ${id}`);
    assert.match(html, /class="summary (bad|good)"/);
    assert.match(html, /layers are flagged as degenerated|No degenerated layers/);
    assert.match(html, /First layer/);
    assert.match(html, /Eigen-images/);
    assert.match(html, /Explained variance/);
    assert.equal(
      (html.match(/<tr( class="flagged")?><td class="num" data-sort="\d+">/g) ?? []).length,
      6,
      'one table row per layer',
    );
    for (const l of data.quality.layers)
      for (const f of l.flags)
        assert.ok(
          html.includes(
            f.reason
              .replace(/&/g, '&amp;')
              .replace(/'/g, '&#39;')
              .replace(/</g, '&lt;')
              .replace(/>/g, '&gt;'),
          ),
          `reason of ${l.name}`,
        );
    const svgs = checkPageSvgs(html);
    assert.ok(svgs >= 5, `${svgs} plots`);
    assert.ok(!/NaN/.test(html), 'no NaN anywhere');
    await screenshot(save('report-digits_cnn.html', html));
  });

  it('depthwise-separable model: grids of degenerated layers, 1x1 layers skipped by the entropy curve', async () => {
    const model = await readModel(await openModelInput(dataPath('digits_dwsep.onnx')));
    const html = await modelReportHtml(model, { generatedAt: null });
    assert.match(html, /Most degenerated layers/);
    assert.match(html, /only calibrated for 3×3 kernels/);
    checkPageSvgs(html);
    await screenshot(save('report-digits_dwsep.html', html), 3200);
  });

  it('CLI writes the report and rejects bad usage', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'filterdb-report-'));
    try {
      const out = join(dir, 'r.html');
      const { stderr } = await run(process.execPath, [
        cli,
        'report',
        dataPath('digits_cnn.onnx'),
        '--out',
        out,
      ]);
      assert.match(stderr, /wrote .*r\.html/);
      const html = await readFile(out, 'utf8');
      assert.match(html, /^<!doctype html>/);
      assert.match(html, /<section id="basis">/);
      await assert.rejects(
        run(process.execPath, [cli, 'report', dataPath('digits_cnn.onnx')]),
        (e: { code?: number }) => e.code === 2,
      );
      await assert.rejects(
        run(process.execPath, [cli, 'report', join(dir, 'missing.onnx'), '--out', out]),
        (e: { code?: number; stderr?: string }) => e.code === 1 && /missing\.onnx/.test(e.stderr ?? ''),
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('zoo report', () => {
  it('renders every plot from plain data computed on a synthetic zoo', async () => {
    const zoo = syntheticZoo(12);
    const data = await zooReportData(
      {
        models: zoo.map((m) => m.model),
        groupings: syntheticGroupings(zoo),
        title: 'Synthetic zoo',
        source: 'synthetic.duckdb',
      },
      { kdeBins: 1024, kdePoints: 512 },
    );
    assert.deepEqual(
      data.shifts.map((s) => s.by),
      ['Task', 'Training', 'Visual Category', 'depth'],
    );
    assert.equal(data.ridges?.length, 4);
    assert.ok((data.density?.total ?? 0) > 0);
    const html = renderZooReport({ ...data, generatedAt: null });
    for (const id of [
      'models',
      'basis',
      'drift',
      'by-task',
      'by-training',
      'by-visual-category',
      'by-depth',
      'ridges',
      'density',
    ]) {
      assert.match(html, new RegExp(`<section id="${id}">`), `section ${id}`);
    }
    // depth deciles in numeric order in the plots
    const depth = html.slice(html.indexOf('<section id="by-depth">'));
    assert.ok(depth.indexOf('[0.0, 0.1]') < depth.indexOf('(0.1, 0.2]'));
    checkPageSvgs(html);
    await screenshot(save('zoo-synthetic.html', html), 5200);
  });

  it('renders a zoo of the fixture model files (real filters, meta.csv metadata)', async () => {
    const files = ['digits_cnn.onnx', 'digits_dwsep.onnx', 'digits_cnn.pt', 'digits_cnn.safetensors'];
    const csv = (await readFile(dataPath('meta.csv'), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => l.split(','));
    const metaRows = new Map(
      csv.slice(1).map((r) => [r[0], Object.fromEntries(csv[0].map((h, i) => [h, r[i]]))]),
    );
    const models: ZooModel[] = [];
    const layers: {
      file: string;
      meta: Record<string, string>;
      depth: number;
      load: () => Promise<ArrayLike<number>>;
      count: number;
    }[] = [];
    for (const f of files) {
      const model = await readModel(await openModelInput(dataPath(f)));
      const q = await qualityReport(model);
      const meta = metaRows.get(f.replace(/\.[^.]+$/, '')) ?? {};
      const threes = model.layers.filter((l) => l.shape.length === 4 && l.shape[2] === 3 && l.shape[3] === 3);
      for (const l of threes)
        layers.push({
          file: f,
          meta,
          depth: l.convDepthNorm,
          load: () => l.loadWeight(),
          count: l.shape[0] * l.shape[1],
        });
      models.push({
        name: f,
        format: model.format,
        layers: model.layers.length,
        filters: threes.reduce((s, l) => s + l.shape[0] * l.shape[1], 0),
        degenerated: q.layers.filter((l) => l.flags.some((x) => x.id !== 'tiny')).length,
        meta: { Architecture: meta.Architecture, Training: meta.Training },
      });
    }
    const source = (groupOf: (l: (typeof layers)[number]) => string) =>
      async function* () {
        for (const l of layers) yield { group: groupOf(l), filters: await l.load(), count: l.count };
      };
    const data = await zooReportData({
      models,
      title: 'Fixture zoo',
      source: 'test/data',
      groupings: [
        { by: 'model', source: source((l) => l.file) },
        { by: 'Architecture', source: source((l) => l.meta.Architecture ?? '(none)') },
        { by: 'depth', source: source((l) => depthDecile(l.depth) ?? '(none)') },
      ],
    });
    const byModel = data.shifts[0];
    assert.deepEqual(byModel.groups, [...files].sort());
    // ONNX folds BatchNorm into the convs (a positive scale per output channel), which peak scaling removes:
    // the ONNX and PyTorch files of digits_cnn hold the same scaled filters, the dwsep model different ones
    assert.ok(byModel.matrix[0][1] < 1e-9, `cnn.onnx vs cnn.pt ${byModel.matrix[0][1]}`);
    assert.ok(byModel.matrix[0][3] > 0.1, `cnn.onnx vs dwsep.onnx ${byModel.matrix[0][3]}`);
    const html = renderZooReport({ ...data, generatedAt: null });
    for (const id of [
      'models',
      'basis',
      'drift',
      'by-model',
      'by-architecture',
      'by-depth',
      'ridges',
      'density',
    ]) {
      assert.match(html, new RegExp(`<section id="${id}">`), `section ${id}`);
    }
    checkPageSvgs(html);
    await screenshot(save('zoo-fixtures.html', html), 4400);
  });

  it('escapes hostile metadata and copes with a one-group grouping', async () => {
    const zoo = syntheticZoo(4, { hostile: true });
    const groupings = syntheticGroupings(zoo, ['Visual Category']);
    groupings.push({ by: 'everything', source: syntheticGroupings(zoo, ['Visual Category'])[0].source });
    const one = async function* () {
      for await (const b of groupings[0].source()) yield { ...b, group: 'all' };
    };
    groupings[1] = { by: 'one group', source: one };
    const data = await zooReportData(
      { models: zoo.map((m) => m.model), groupings },
      { kdeBins: 256, kdePoints: 128, density: { size: 64 } },
    );
    const html = renderZooReport({ ...data, generatedAt: null });
    assert.equal((html.match(/<script/g) ?? []).length, 1, 'only the page’s own script');
    assert.ok(html.includes('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;'));
    checkPageSvgs(html);
  });

  it('renders with nothing but a models list', () => {
    const html = renderZooReport({ models: [{ name: 'm' }], shifts: [], generatedAt: null });
    assert.match(html, /<section id="models">/);
    checkPageSvgs(html);
  });
});
