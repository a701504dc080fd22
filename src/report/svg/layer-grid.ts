/**
 * A whole layer as one raster: every 2-D filter of an `[out, inPerGroup, kh, kw]` weight at its place in the
 * out × in grid (1x1 layers become the out × in weight matrix), with axes, a colour bar and the near-zero
 * ("dead") filters marked. Drawn as one indexed PNG inside the SVG, so a 384 × 384 matrix or a 512 × 512 × 3×3
 * grid stays a handful of elements instead of hundreds of thousands of rects.
 */
import { divergingRgb, type Rgb } from './color.js';
import {
  emptyPlot,
  esc,
  fmt,
  header,
  n2,
  PLOT_TABLE_MAX_ROWS,
  type PlotFrameOptions,
  svgDoc,
  text,
  textWidth,
} from './core.js';
import { filtersTable, peak } from './filters.js';
import { base64, encodeIndexedPng } from './png.js';

export interface LayerGridOptions extends PlotFrameOptions {
  /**
   * Colour range: 'layer' (default) = ±max|w| of the layer; 'filter' = each 2-D filter to its own max|w| (for
   * 1x1 layers, whose filters are single values, each output channel's row to its own max|w|).
   */
  scale?: 'layer' | 'filter';
  /** Screen pixels per kernel element (default: the grid about 900 px wide, 1..12). */
  pixel?: number;
  /** Indices (out·inPerGroup + i) of the near-zero 2-D filters, drawn in the marker colour. */
  dead?: readonly number[];
  /** Name of the column axis (default "input channel"). */
  colName?: string;
  /** Name of the row axis (default "output channel"). */
  rowName?: string;
}

/** Palette: 0 = gap (transparent), 1 = non-finite grey, 2 = dead marker, 3.. = the diverging map. */
const LEVELS = 253;
const DEAD_RGB: Rgb = [240, 228, 66]; // Okabe–Ito yellow: not on the blue–white–red map
export const DEAD_COLOR = '#f0e442';
const PALETTE: Rgb[] = [
  [0, 0, 0],
  [140, 140, 140],
  DEAD_RGB,
  ...Array.from({ length: LEVELS }, (_, i) => divergingRgb(i / (LEVELS - 1))),
];

function level(v: number, limit: number): number {
  if (!Number.isFinite(v)) return 1;
  const t = limit > 0 ? 0.5 + v / (2 * limit) : 0.5;
  return 3 + Math.round(Math.min(1, Math.max(0, t)) * (LEVELS - 1));
}

/** Tick positions 0, step, 2·step … below `count`, about `target` of them. */
function indexTicks(count: number, target: number): number[] {
  if (count <= target) return Array.from({ length: count }, (_, i) => i);
  const raw = count / target;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 4, 5, 8, 10].map((f) => f * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let i = 0; i < count; i += step) out.push(i);
  return out;
}

/** Geometry of the raster inside the SVG, for pointer → (row, col) in the app (`data-*` on the image). */
export interface LayerGridGeometry {
  x: number;
  y: number;
  /** Screen px of one cell pitch (kernel + gap) along x and y. */
  pitchX: number;
  pitchY: number;
  rows: number;
  cols: number;
  /** Output channels per grid row when a one-input-channel layer is wrapped (0: rows are output channels). */
  wrap: number;
}

/** The raster's layout for a layer of `shape` (its size in image pixels, one per kernel element). */
export function layerGridLayout(shape: readonly number[]): {
  gap: number;
  wrap: number;
  gridCols: number;
  gridRows: number;
  width: number;
  height: number;
} {
  const [rows, cols, kh, kw] = shape;
  const gap = kh * kw > 1 ? 1 : 0;
  // a depthwise layer (one input channel per group) is one tall column: wrap its output channels in rows
  const wrap = cols === 1 && rows > 16 && kh * kw > 1 ? Math.ceil(Math.sqrt(rows * 1.5)) : 0;
  const gridCols = wrap || cols;
  const gridRows = wrap ? Math.ceil(rows / wrap) : rows;
  return {
    gap,
    wrap,
    gridCols,
    gridRows,
    width: gridCols * (kw + gap) - gap,
    height: gridRows * (kh + gap) - gap,
  };
}

/** The layer grid (see the file comment). `shape` is `[out, inPerGroup, kh, kw]`. */
export function layerGridSvg(
  weight: ArrayLike<number>,
  shape: readonly number[],
  options: LayerGridOptions = {},
): string {
  if (shape.length !== 4) return emptyPlot(`not a 2-D convolution (shape ${shape.join('×')})`, options);
  const [rows, cols, kh, kw] = shape;
  const k = kh * kw;
  if (rows * cols * k === 0) return emptyPlot('empty layer (no filters)', options);
  if (weight.length < rows * cols * k)
    return emptyPlot(`weight holds ${weight.length} values, shape needs ${rows * cols * k}`, options);
  const { gap, wrap, gridCols, gridRows, width: imgW, height: imgH } = layerGridLayout(shape);
  const cw = kw + gap;
  const ch = kh + gap;
  const px = options.pixel ?? Math.max(1, Math.min(12, Math.floor(900 / imgW)));
  const mode = options.scale ?? 'layer';
  const layerLimit = peak(weight, 0, rows * cols * k);
  const dead = new Set(options.dead ?? []);

  const idx = new Uint8Array(imgW * imgH); // 0 = gap
  for (let r = 0; r < rows; r++) {
    const rowLimit = mode === 'filter' && k === 1 ? peak(weight, r * cols, (r + 1) * cols) : layerLimit;
    for (let c = 0; c < cols; c++) {
      const f = r * cols + c;
      const o = f * k;
      const lim = mode === 'filter' ? (k === 1 ? rowLimit : peak(weight, o, o + k)) : layerLimit;
      const isDead = dead.has(f);
      const gr = wrap ? Math.floor(f / wrap) : r;
      const gc = wrap ? f % wrap : c;
      for (let i = 0; i < kh; i++)
        for (let j = 0; j < kw; j++)
          idx[(gr * ch + i) * imgW + gc * cw + j] = isDead ? 2 : level(weight[o + i * kw + j], lim);
    }
  }
  const png = base64(encodeIndexedPng(imgW, imgH, idx, PALETTE, [0]));

  const head = header(options);
  const rowName = options.rowName ?? 'output channel';
  const colName = wrap
    ? `output channel = row start + offset (one ${options.colName ?? 'input channel'} each)`
    : (options.colName ?? 'input channel');
  const left = 58;
  const top = head.height + 34;
  const gw = imgW * px;
  const gh = imgH * px;
  const geometry: LayerGridGeometry = {
    x: left,
    y: top,
    pitchX: cw * px,
    pitchY: ch * px,
    rows: gridRows,
    cols: gridCols,
    wrap,
  };
  let body = `<rect class="fdb-frame" x="${left - 0.5}" y="${top - 0.5}" width="${gw + 1}" height="${gh + 1}"/>`;
  body += `<image class="fdb-layergrid" x="${left}" y="${top}" width="${gw}" height="${gh}" preserveAspectRatio="none" style="image-rendering:pixelated" data-geometry="${esc(JSON.stringify(geometry))}" href="data:image/png;base64,${png}"/>`;
  // axes: tick labels at cell centres
  // a long axis name over a narrow grid starts at the grid's left edge instead of running off the left side
  const colNameW = textWidth(colName, 10.5);
  body +=
    colNameW > gw
      ? text(left, top - 22, colName, { cls: 'fdb-sub' })
      : text(left + gw / 2, top - 22, colName, { cls: 'fdb-sub', anchor: 'middle' });
  body += text(14, top + gh / 2, rowName, { cls: 'fdb-sub', anchor: 'middle', rotate: -90 });
  body += '<g class="fdb-axis">';
  for (const c of indexTicks(gridCols, Math.max(2, Math.floor(gw / 34)))) {
    const x = left + (c * cw + kw / 2) * px;
    body += `<line x1="${n2(x)}" x2="${n2(x)}" y1="${top - 4}" y2="${top}"/>`;
    body += text(x, top - 7, wrap ? `+${c}` : String(c), { cls: 'fdb-sub', anchor: 'middle' });
  }
  for (const r of indexTicks(gridRows, Math.max(2, Math.floor(gh / 18)))) {
    const y = top + (r * ch + kh / 2) * px;
    body += `<line x1="${left - 4}" x2="${left}" y1="${n2(y)}" y2="${n2(y)}"/>`;
    body += text(left - 7, y, String(wrap ? r * wrap : r), {
      cls: 'fdb-sub',
      anchor: 'end',
      baseline: 'middle',
    });
  }
  body += '</g>';
  // output channels whose every filter is dead: a marker left of the row
  let deadRows = 0;
  if (dead.size && !wrap) {
    for (let r = 0; r < rows; r++) {
      let all = true;
      for (let c = 0; c < cols && all; c++) all = dead.has(r * cols + c);
      if (!all) continue;
      deadRows++;
      const y = top + (r * ch + kh / 2) * px;
      body += `<path class="fdb-deadrow" d="M${left - 2} ${n2(y)}l-6 -3.5v7z" style="fill:var(--fdb-flag,#d55e00)"><title>${esc(`${rowName} ${r}: every filter near zero`)}</title></path>`;
    }
  }
  // colour bar and legend
  const lx = left + gw + 18;
  const lh = Math.max(80, Math.min(200, gh));
  const steps = 48;
  body += '<g shape-rendering="crispEdges">';
  for (let i = 0; i < steps; i++) {
    const [r, g, b] = divergingRgb((i + 0.5) / steps);
    body += `<rect x="${lx}" y="${n2(top + lh - ((i + 1) * lh) / steps)}" width="12" height="${n2(lh / steps + 0.6)}" fill="rgb(${Math.round(r)},${Math.round(g)},${Math.round(b)})"/>`;
  }
  body += `</g><rect class="fdb-frame" x="${lx}" y="${top}" width="12" height="${lh}"/>`;
  const perFilter = mode === 'filter';
  body += text(lx + 16, top + 4, perFilter ? '+max' : fmt(layerLimit, 3), {
    cls: 'fdb-sub',
    baseline: 'middle',
  });
  body += text(lx + 16, top + lh / 2, '0', { cls: 'fdb-sub', baseline: 'middle' });
  body += text(lx + 16, top + lh - 4, perFilter ? '−max' : fmt(-layerLimit, 3), {
    cls: 'fdb-sub',
    baseline: 'middle',
  });
  body += text(lx, top + lh + 14, perFilter ? (k === 1 ? 'per output row' : 'per filter') : 'per layer', {
    cls: 'fdb-sub',
  });
  let legendBottom = top + lh + 14;
  if (options.dead) {
    legendBottom += 18;
    body += `<rect x="${lx}" y="${legendBottom - 9}" width="12" height="12" fill="${DEAD_COLOR}" class="fdb-deadkey"/>`;
    body += text(lx + 16, legendBottom - 3, `near zero: ${dead.size}`, {
      cls: 'fdb-sub',
      baseline: 'middle',
    });
    if (deadRows) {
      legendBottom += 16;
      body += text(lx, legendBottom, `${deadRows} dead output rows ◂`, { cls: 'fdb-sub' });
    }
  }
  const width = Math.max(
    lx + 110,
    left + colNameW + 4,
    textWidth(options.title ?? '', 13),
    textWidth(options.subtitle ?? '', 10.5),
  );
  const height = Math.max(top + gh, legendBottom) + 6;
  return svgDoc(width, height, head.svg + body, options, () => {
    // a big layer's filters are thinned before the table is built, not after
    const total = rows * cols;
    const step = Math.ceil(total / PLOT_TABLE_MAX_ROWS);
    const indices: number[] = [];
    for (let i = 0; i < total; i += step) indices.push(i);
    const rowName = options.rowName ?? 'output channel';
    const t = filtersTable(weight, indices, shape, rowName, options.colName ?? 'input channel');
    return step > 1 ? { ...t, note: `${indices.length} of ${total} filters shown (one in ${step})` } : t;
  });
}
