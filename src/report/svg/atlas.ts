/**
 * Depthwise kernel atlas plots (analysis/atlas-view.ts): the prototype of each pattern, the share of each
 * label per depth bin as stacked bars, and a grid of example kernels per pattern, closest to the prototype
 * first.
 */
import type { AtlasSizeView, AtlasView } from '../../analysis/atlas-view.js';
import { KERNEL_LABELS, type KernelLabel } from '../../analysis/kernel-atlas.js';
import { colorBarRects, divergingRgb } from './color.js';
import {
  emptyPlot,
  esc,
  fmt,
  header,
  leftAxis,
  linear,
  n2,
  type PlotFrameOptions,
  pct,
  svgDoc,
  text,
  textWidth,
  truncate,
  weightColumns,
} from './core.js';
import { kernelHeatmap } from './filters.js';

/** One colour per label (Okabe–Ito; greys for flat and unclassified), the same in every atlas plot. */
export const LABEL_COLORS: Record<KernelLabel, string> = {
  blob: '#0072b2',
  'centre-surround': '#56b4e9',
  edge: '#e69f00',
  line: '#009e73',
  saddle: '#cc79a7',
  flat: '#d4d4d4',
  unclassified: '#8c8c8c',
};

function peak(values: readonly number[]): number {
  let m = 0;
  for (const v of values) if (Number.isFinite(v)) m = Math.max(m, Math.abs(v));
  return m;
}

function legendBar(x: number, y: number, height: number): string {
  let s = colorBarRects(x, y, 8, height, divergingRgb, 32);
  s += text(x + 12, y + 4, '+max', { cls: 'fdb-sub', baseline: 'middle' });
  s += text(x + 12, y + height - 4, '−max', { cls: 'fdb-sub', baseline: 'middle' });
  return s;
}

export interface AtlasPrototypesOptions extends PlotFrameOptions {
  /** Side of one prototype in px (default 56). */
  size?: number;
}

/** The prototype of each pattern at one kernel size, with the pattern's share and count under it. */
export function atlasPrototypesSvg(view: AtlasSizeView, options: AtlasPrototypesOptions = {}): string {
  const protos = view.patterns.filter((p) => p.prototype);
  const desc =
    options.desc ??
    `Prototypes of the depthwise kernel patterns on the ${view.k}×${view.k} grid (blue negative, red positive, each scaled to its own max): ` +
      protos.map((p) => `${p.label} ${pct(p.share)} of ${view.kernels} kernels`).join(', ');
  if (!protos.length) return emptyPlot('no patterns', { ...options, desc });
  const size = options.size ?? 56;
  const px = size / view.k;
  const cellW = Math.max(size, 92);
  const head = header(options);
  const top = head.height;
  let body = '';
  protos.forEach((p, i) => {
    const x = i * (cellW + 12);
    const ix = x + (cellW - size) / 2;
    body += `<g class="fdb-proto" data-label="${esc(p.label)}"><title>${esc(`${p.label}: σ ${fmt(p.sigma)}, ${p.count} kernels (${pct(p.share)})`)}</title>`;
    body += `<rect x="${n2(x + cellW / 2 - 30)}" y="${n2(top + 2)}" width="60" height="3" style="fill:${LABEL_COLORS[p.label]}"/>`;
    body += text(x + cellW / 2, top + 16, p.label, { anchor: 'middle', cls: 'fdb-panel' });
    body += kernelHeatmap(p.prototype!, view.k, view.k, ix, top + 24, px, 1);
    body += text(x + cellW / 2, top + 24 + size + 14, `${pct(p.share)} · ${p.count}`, { anchor: 'middle' });
    body += text(x + cellW / 2, top + 24 + size + 27, `σ ${fmt(p.sigma)}`, {
      anchor: 'middle',
      cls: 'fdb-sub',
    });
    body += '</g>';
  });
  const width = protos.length * (cellW + 12) + 50;
  body += legendBar(width - 46, top + 24, size);
  return svgDoc(width, top + 24 + size + 34, head.svg + body, { ...options, desc }, () => ({
    columns: ['pattern', 'kernels', 'share', 'σ', ...weightColumns(view.k, view.k)],
    rows: protos.map((p) => [p.label, p.count, p.share, p.sigma, ...p.prototype!]),
  }));
}

export interface AtlasDepthOptions extends PlotFrameOptions {
  width?: number;
  height?: number;
}

/** The share of each label per depth bin, as 100% stacked bars (bins in depth order), with a legend. */
export function atlasDepthSvg(byDepth: AtlasView['byDepth'], options: AtlasDepthOptions = {}): string {
  const desc =
    options.desc ??
    `Share of each kernel pattern per depth bin: ${byDepth
      .map(
        (b) =>
          `${b.bin} (${b.kernels} kernels): ${KERNEL_LABELS.map((l) => `${l} ${pct(b.shares[l])}`).join(', ')}`,
      )
      .join('; ')}`;
  if (!byDepth.length) return emptyPlot('no depthwise kernels', { ...options, desc });
  const width = options.width ?? Math.max(380, 110 + byDepth.length * 56 + 130);
  const height = options.height ?? 260;
  const head = header(options);
  const m = { top: head.height + 6, right: 130, bottom: 58, left: 52 };
  const band = (width - m.left - m.right) / byDepth.length;
  const barW = Math.min(44, band * 0.78);
  const y = linear(0, 1, height - m.bottom, m.top);
  let body = leftAxis(
    { scale: y, ticks: [0, 0.25, 0.5, 0.75, 1], format: (v) => pct(v, 0), label: 'share of kernels' },
    m.left,
    m.top,
    height - m.bottom,
    width - m.right,
  );
  byDepth.forEach((b, i) => {
    const cx = m.left + band * (i + 0.5);
    let acc = 0;
    for (const l of KERNEL_LABELS) {
      const s = b.shares[l];
      if (!(s > 0)) continue;
      const y0 = y(acc);
      const y1 = y(acc + s);
      body += `<rect class="fdb-seg" data-label="${esc(l)}" data-bin="${esc(b.bin)}" x="${n2(cx - barW / 2)}" y="${n2(y1)}" width="${n2(barW)}" height="${n2(y0 - y1)}" style="fill:${LABEL_COLORS[l]}"><title>${esc(`${b.bin}: ${l} ${pct(s)} of ${b.kernels} kernels`)}</title></rect>`;
      acc += s;
    }
    const ly = height - m.bottom + 8;
    body += `<text x="${n2(cx)}" y="${n2(ly)}" text-anchor="end" dominant-baseline="hanging" transform="rotate(-35 ${n2(cx)} ${n2(ly)})" class="fdb-sub">${esc(truncate(b.bin, 14))}</text>`;
  });
  body += `<g class="fdb-axis"><line x1="${n2(m.left)}" y1="${n2(height - m.bottom)}" x2="${n2(width - m.right)}" y2="${n2(height - m.bottom)}"/></g>`;
  body += text((m.left + width - m.right) / 2, height - 6, 'conv depth (normalised, deciles)', {
    anchor: 'middle',
    cls: 'fdb-muted',
  });
  KERNEL_LABELS.forEach((l, i) => {
    const ly = m.top + 6 + i * 16;
    const lx = width - m.right + 14;
    body += `<rect x="${n2(lx)}" y="${n2(ly - 5)}" width="10" height="10" style="fill:${LABEL_COLORS[l]}"/>`;
    body += text(lx + 15, ly, l, { baseline: 'middle' });
  });
  return svgDoc(width, height, head.svg + body, { ...options, desc }, () => ({
    columns: ['depth bin', 'kernels', ...KERNEL_LABELS.map((l) => `share ${l}`)],
    rows: byDepth.map((b) => [b.bin, b.kernels, ...KERNEL_LABELS.map((l) => b.shares[l] ?? 0)]),
  }));
}

export interface AtlasExamplesOptions extends PlotFrameOptions {
  /** Side of one kernel in px (default 34). */
  size?: number;
  /** Most examples per row (default all the view holds). */
  examples?: number;
}

/**
 * One row per pattern (and one for unclassified kernels): the prototype, then example kernels with that label,
 * highest score (closest to a prototype) first, each on its own symmetric colour range (the patterns are
 * affine copies a·p + b, so the scale a differs from kernel to kernel).
 */
export function atlasExamplesSvg(view: AtlasSizeView, options: AtlasExamplesOptions = {}): string {
  const rows = view.patterns.filter((p) => p.examples.length > 0 || p.prototype);
  const desc =
    options.desc ??
    `Example ${view.k}×${view.k} depthwise kernels per pattern, highest score first: ` +
      rows
        .map(
          (p) =>
            `${p.label}: ${p.examples.length} shown of ${p.count}${p.examples.length ? `, scores ${fmt(p.examples[0].score)} to ${fmt(p.examples[p.examples.length - 1].score)}` : ''}`,
        )
        .join('; ');
  if (!rows.length) return emptyPlot('no kernels', { ...options, desc });
  const size = options.size ?? 34;
  const px = size / view.k;
  const most = options.examples ?? Math.max(1, ...rows.map((r) => r.examples.length));
  const head = header(options);
  const labelW = Math.max(...rows.map((r) => textWidth(r.label, 12))) + 66;
  const gap = 4;
  const top = head.height + 14;
  const rowH = size + 14;
  // examples start after the prototype column (at least as wide as its header)
  const x0 = labelW + Math.max(size, 52) + 14;
  let body = text(labelW, top - 6, 'prototype', { cls: 'fdb-sub' });
  body += text(x0, top - 6, 'examples, closest first', { cls: 'fdb-sub' });
  rows.forEach((p, r) => {
    const y = top + r * rowH;
    body += `<g class="fdb-atlas-row" data-label="${esc(p.label)}">`;
    body += `<rect x="0" y="${n2(y + size / 2 - 5)}" width="10" height="10" style="fill:${LABEL_COLORS[p.label]}"/>`;
    body += text(15, y + size / 2 - 6, p.label, { baseline: 'middle', cls: 'fdb-panel' });
    body += text(15, y + size / 2 + 8, `${p.count} · ${pct(p.share)}`, {
      baseline: 'middle',
      cls: 'fdb-sub',
    });
    if (p.prototype) body += kernelHeatmap(p.prototype, view.k, view.k, labelW, y, px, 1);
    p.examples.slice(0, most).forEach((e, i) => {
      const x = x0 + i * (size + gap);
      body += `<g class="fdb-example"><title>${esc(`${e.layer} channel ${e.channel}: score ${fmt(e.score, 4)}, max |w| ${fmt(peak(e.kernel))}`)}</title>`;
      body += kernelHeatmap(e.kernel, view.k, view.k, x, y, px, peak(e.kernel) || 1);
      body += '</g>';
    });
    body += '</g>';
  });
  const width = x0 + most * (size + gap) + 56;
  body += legendBar(width - 50, top, Math.min(70, rows.length * rowH - 14));
  return svgDoc(width, top + rows.length * rowH, head.svg + body, { ...options, desc }, () => ({
    columns: ['pattern', 'layer', 'channel', 'score', ...weightColumns(view.k, view.k)],
    rows: rows.flatMap((p) =>
      p.examples.slice(0, most).map((e) => [p.label, e.layer, e.channel, e.score, ...e.kernel]),
    ),
  }));
}
