/**
 * Filter grids: every 2-D kernel of a layer as a small heat-map (diverging map, symmetric range), and the
 * first-layer RGB view (each output filter of an `in == 3` layer as one colour image).
 */
import { colorBarRects, divergingColor, divergingRgb, NON_FINITE_COLOR, toHex } from './color.js';
import {
  emptyPlot,
  esc,
  fmt,
  header,
  n2,
  type PlotFrameOptions,
  type PlotTable,
  svgDoc,
  text,
  weightColumns,
} from './core.js';

export interface FilterGridOptions extends PlotFrameOptions {
  /** Most 2-D filters drawn (default 256); a note says how many were left out. */
  maxFilters?: number;
  /** Colour range: 'layer' (default) = ±max|w| of the layer; 'filter' = each filter scaled to its own max|w|. */
  scale?: 'layer' | 'filter';
  /** Override the symmetric colour limit (layer mode), e.g. a percentile to stop one outlier washing out the rest. */
  limit?: number;
  /** Pixels per kernel element (default: about 30 px per filter, at least 3 px per element). */
  pixel?: number;
  /** Gap between filters in px (default 2, or 1 when filters are small). */
  gap?: number;
  /**
   * 'matrix': one row per output channel, one column per input channel; 'flow': filters wrapped in rows.
   * Default: matrix when the layer has 2..64 input channels per group, else flow.
   */
  layout?: 'matrix' | 'flow';
  /** Columns of the flow layout (default about √(1.8·count)). */
  columns?: number;
  /** Most input-channel columns of the matrix layout (default 32). */
  maxColumns?: number;
  /** Name of dim 0 / dim 1 in labels (default "output" / "input"; transposed convs store [in, out, …]). */
  rowName?: string;
  colName?: string;
  /** Draw the colour bar (default true). */
  legend?: boolean;
}

interface Cell {
  row: number;
  col: number;
  /** Index of the 2-D filter (dim0 * dim1 + dim1). */
  index: number;
}

/** Largest |finite value| of a range of an array. */
export function peak(w: ArrayLike<number>, from: number, to: number): number {
  let m = 0;
  for (let i = from; i < to; i++) {
    const a = Math.abs(w[i]);
    if (a > m && Number.isFinite(a)) m = a;
  }
  return m;
}

function checkShape(weight: ArrayLike<number>, shape: readonly number[]): string | null {
  if (shape.length !== 4) return `not a 2-D convolution (weight shape ${shape.join('×') || 'unknown'})`;
  const total = shape[0] * shape[1] * shape[2] * shape[3];
  if (total === 0) return 'empty layer (no filters)';
  if (weight.length < total) return `weight holds ${weight.length} values, shape needs ${total}`;
  return null;
}

/** The 2-D filters of a layer as small heat-maps. `shape` is `[out, inPerGroup, kh, kw]`. */
export function filterGridSvg(
  weight: ArrayLike<number>,
  shape: readonly number[],
  options: FilterGridOptions = {},
): string {
  const problem = checkShape(weight, shape);
  if (problem) return emptyPlot(problem, options);
  const [d0, d1, kh, kw] = shape;
  const k = kh * kw;
  const total = d0 * d1;
  const maxFilters = Math.max(1, options.maxFilters ?? 256);
  const layout = options.layout ?? (d1 >= 2 && d1 <= 64 ? 'matrix' : 'flow');
  const rowName = options.rowName ?? 'output';
  const colName = options.colName ?? 'input';

  const cells: Cell[] = [];
  let rows: number;
  let cols: number;
  let note = '';
  if (layout === 'matrix') {
    cols = Math.min(d1, Math.max(1, options.maxColumns ?? 32), maxFilters);
    rows = Math.min(d0, Math.max(1, Math.floor(maxFilters / cols)));
    for (let r = 0; r < rows; r++)
      for (let c = 0; c < cols; c++) cells.push({ row: r, col: c, index: r * d1 + c });
    if (rows < d0 || cols < d1) {
      note = `showing ${rowName} channels 0–${rows - 1} of ${d0} × ${colName} channels 0–${cols - 1} of ${d1} (${rows * cols} of ${total} filters)`;
    }
  } else {
    const count = Math.min(total, maxFilters);
    cols = Math.max(1, Math.min(count, options.columns ?? Math.ceil(Math.sqrt(count * 1.8))));
    rows = Math.ceil(count / cols);
    for (let i = 0; i < count; i++) cells.push({ row: Math.floor(i / cols), col: i % cols, index: i });
    if (count < total) note = `showing the first ${count} of ${total} filters`;
  }

  const px = options.pixel ?? Math.max(3, Math.round(30 / Math.max(kh, kw)));
  const fw = kw * px;
  const fh = kh * px;
  const gap = options.gap ?? (fw < 16 ? 1 : layout === 'flow' ? 4 : 2);
  const mode = options.scale ?? 'layer';
  const layerLimit = options.limit ?? peak(weight, 0, total * k);

  const head = header(options);
  const matrix = layout === 'matrix';
  const left = matrix ? 40 : 0;
  const top = head.height + (matrix ? 30 : 0);
  const gridW = cols * (fw + gap) - gap;
  const gridH = rows * (fh + gap) - gap;
  const legend = options.legend !== false;
  const legendW = legend ? 70 : 0;

  let body = `<g transform="translate(${left},${top})" shape-rendering="crispEdges">`;
  for (const cell of cells) {
    const o = cell.index * k;
    const lim = mode === 'filter' ? peak(weight, o, o + k) : layerLimit;
    const x = cell.col * (fw + gap);
    const y = cell.row * (fh + gap);
    const r = Math.floor(cell.index / d1);
    const c = cell.index % d1;
    let nonFinite = 0;
    let rects = '';
    for (let i = 0; i < kh; i++) {
      for (let j = 0; j < kw; j++) {
        const v = weight[o + i * kw + j];
        if (!Number.isFinite(v)) nonFinite++;
        rects += `<rect x="${n2(x + j * px)}" y="${n2(y + i * px)}" width="${px}" height="${px}" fill="${divergingColor(v, lim)}"/>`;
      }
    }
    const tip = `${rowName} ${r}, ${colName} ${c}: max |w| ${fmt(peak(weight, o, o + k))}${nonFinite ? `, ${nonFinite} non-finite values` : ''}`;
    body += `<g><title>${esc(tip)}</title>${rects}</g>`;
  }
  body += '</g>';
  if (fw >= 12) {
    // thin frames so white (zero) filters stay visible on a white page
    body += `<g transform="translate(${left},${top})">`;
    for (const cell of cells) {
      body += `<rect class="fdb-cellframe" x="${n2(cell.col * (fw + gap))}" y="${n2(cell.row * (fh + gap))}" width="${fw}" height="${fh}"/>`;
    }
    body += '</g>';
  }

  if (matrix) {
    body += text(left + gridW / 2, top - 18, `${colName} channel`, { cls: 'fdb-sub', anchor: 'middle' });
    body += text(left - 26, top + gridH / 2, `${rowName} channel`, {
      cls: 'fdb-sub',
      anchor: 'middle',
      rotate: -90,
    });
    const every = fh + gap >= 16 ? 4 : 8;
    for (let r = 0; r < rows; r += every) {
      body += text(left - 4, top + r * (fh + gap) + fh / 2, String(r), {
        anchor: 'end',
        baseline: 'middle',
        cls: 'fdb-sub',
      });
    }
    for (let c = 0; c < cols; c += every) {
      body += text(left + c * (fw + gap) + fw / 2, top - 5, String(c), { anchor: 'middle', cls: 'fdb-sub' });
    }
  }

  let height = top + gridH;
  if (note) {
    height += 16;
    body += text(left, height, note, { cls: 'fdb-note' });
  }
  let width = left + gridW;
  if (legend) {
    const lx = width + 16;
    const lh = Math.max(48, Math.min(120, gridH));
    if (mode === 'filter') {
      body += colorBarRects(lx, top, 10, lh, divergingRgb, 32);
      body += text(lx + 14, top + 6, '+max', { cls: 'fdb-sub', baseline: 'middle' });
      body += text(lx + 14, top + lh / 2, '0', { cls: 'fdb-sub', baseline: 'middle' });
      body += text(lx + 14, top + lh - 6, '−max', { cls: 'fdb-sub', baseline: 'middle' });
      body += text(lx, top + lh + 14, 'per filter', { cls: 'fdb-sub' });
    } else {
      body += colorBarRects(lx, top, 10, lh, divergingRgb, 32);
      body += text(lx + 14, top + 4, fmt(layerLimit, 2), { cls: 'fdb-sub', baseline: 'middle' });
      body += text(lx + 14, top + lh / 2, '0', { cls: 'fdb-sub', baseline: 'middle' });
      body += text(lx + 14, top + lh - 4, fmt(-layerLimit, 2), { cls: 'fdb-sub', baseline: 'middle' });
    }
    width = lx + legendW - 16;
    height = Math.max(height, top + lh + 20);
  }
  width = Math.max(width, note ? left + note.length * 5.6 : 0);
  return svgDoc(width + 2, height + 4, head.svg + body, options, () =>
    filtersTable(
      weight,
      cells.map((c) => c.index),
      shape,
      rowName,
      colName,
    ),
  );
}

/** The weights of the drawn 2-D filters (indices dim0 · dim1 + dim1), a row per filter. */
export function filtersTable(
  weight: ArrayLike<number>,
  indices: readonly number[],
  shape: readonly number[],
  rowName = 'output',
  colName = 'input',
): PlotTable {
  const [, d1, kh, kw] = shape;
  const k = kh * kw;
  return {
    columns: [rowName, colName, ...weightColumns(kh, kw)],
    rows: indices.map((i) => [
      Math.floor(i / d1),
      i % d1,
      ...Array.from({ length: k }, (_, j) => weight[i * k + j]),
    ]),
  };
}

export interface RgbGridOptions extends PlotFrameOptions {
  /** Most output filters drawn (default 256). */
  maxFilters?: number;
  /** Min-max scaling: per 'filter' (default) or over the whole 'layer'. */
  scale?: 'filter' | 'layer';
  /** Pixels per kernel element (default about 36 px per filter). */
  pixel?: number;
  gap?: number;
  columns?: number;
}

/**
 * First-layer RGB view: each output filter of an `[out, 3, kh, kw]` layer as one colour image, channels mapped
 * to R, G, B after min-max scaling to [0, 1].
 */
export function rgbFilterGridSvg(
  weight: ArrayLike<number>,
  shape: readonly number[],
  options: RgbGridOptions = {},
): string {
  const problem = checkShape(weight, shape);
  if (problem) return emptyPlot(problem, options);
  const [out, inCh, kh, kw] = shape;
  if (inCh !== 3) return emptyPlot(`RGB view needs 3 input channels, this layer has ${inCh}`, options);
  const k = kh * kw;
  const count = Math.min(out, Math.max(1, options.maxFilters ?? 256));
  const cols = Math.max(1, Math.min(count, options.columns ?? Math.ceil(Math.sqrt(count * 2))));
  const rows = Math.ceil(count / cols);
  const px = options.pixel ?? Math.max(3, Math.round(36 / Math.max(kh, kw)));
  const fw = kw * px;
  const fh = kh * px;
  const gap = options.gap ?? 3;
  const head = header(options);
  const top = head.height;

  const range = (from: number, to: number): [number, number] => {
    let lo = Number.POSITIVE_INFINITY;
    let hi = Number.NEGATIVE_INFINITY;
    for (let i = from; i < to; i++) {
      const v = weight[i];
      if (!Number.isFinite(v)) continue;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    return lo <= hi ? [lo, hi] : [0, 0];
  };
  const layerRange = range(0, out * 3 * k);

  let body = `<g transform="translate(0,${top})" shape-rendering="crispEdges">`;
  for (let f = 0; f < count; f++) {
    const o = f * 3 * k;
    const [lo, hi] = options.scale === 'layer' ? layerRange : range(o, o + 3 * k);
    const span = hi - lo;
    const x = (f % cols) * (fw + gap);
    const y = Math.floor(f / cols) * (fh + gap);
    let rects = '';
    for (let i = 0; i < kh; i++) {
      for (let j = 0; j < kw; j++) {
        const p = i * kw + j;
        const ch = [weight[o + p], weight[o + k + p], weight[o + 2 * k + p]];
        const fill = ch.every(Number.isFinite)
          ? toHex(ch.map((v) => (span > 0 ? ((v - lo) / span) * 255 : 128)) as [number, number, number])
          : NON_FINITE_COLOR;
        rects += `<rect x="${n2(x + j * px)}" y="${n2(y + i * px)}" width="${px}" height="${px}" fill="${fill}"/>`;
      }
    }
    body += `<g><title>${esc(`filter ${f}: range ${fmt(lo)} … ${fmt(hi)}`)}</title>${rects}</g>`;
  }
  body += '</g>';
  let height = top + rows * (fh + gap) - gap;
  const note =
    (count < out ? `showing the first ${count} of ${out} filters; ` : '') +
    (options.scale === 'layer' ? 'min–max scaled over the layer' : 'each filter min–max scaled to [0, 1]') +
    '; channels → R, G, B';
  height += 16;
  body += text(0, height, note, { cls: 'fdb-note' });
  const width = Math.max(cols * (fw + gap) - gap, note.length * 5.4);
  return svgDoc(width + 2, height + 4, head.svg + body, options, () =>
    filtersTable(
      weight,
      Array.from({ length: count * 3 }, (_, i) => i),
      shape,
    ),
  );
}

/**
 * A single small heat-map of one kernel (used by eigen-images): `values` row-major kh × kw, symmetric `limit`.
 * Returns markup positioned at (x, y) with `px` pixels per element.
 */
export function kernelHeatmap(
  values: ArrayLike<number>,
  kh: number,
  kw: number,
  x: number,
  y: number,
  px: number,
  limit: number,
): string {
  let s = '<g shape-rendering="crispEdges">';
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) {
      s += `<rect x="${n2(x + j * px)}" y="${n2(y + i * px)}" width="${n2(px)}" height="${n2(px)}" fill="${divergingColor(values[i * kw + j], limit)}"/>`;
    }
  }
  s += '</g>';
  s += `<rect class="fdb-cellframe" x="${n2(x)}" y="${n2(y)}" width="${n2(kw * px)}" height="${n2(kh * px)}"/>`;
  return s;
}
