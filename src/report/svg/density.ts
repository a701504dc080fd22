/** 2-D coefficient density with a log colour scale, drawn as an embedded indexed PNG (the grid is 512²). */
import { colorBarRects, viridisRgb } from './color.js';
import {
  bottomAxis,
  emptyPlot,
  esc,
  fmt,
  header,
  isFiniteNumber,
  leftAxis,
  linear,
  n2,
  type PlotFrameOptions,
  svgDoc,
  text,
  ticks,
} from './core.js';
import { base64, encodeIndexedPng } from './png.js';

/** What the plot needs (analysis/density2d.ts `DensityGrid` fits). */
export interface DensityGridData {
  /** Row-major ny × nx counts, row 0 = lowest y. */
  counts: ArrayLike<number>;
  nx: number;
  ny: number;
  x: [number, number];
  y: [number, number];
  /** Pairs outside the grid (noted under the plot when > 0). */
  outside?: number;
}

export interface DensityOptions extends PlotFrameOptions {
  /** Side of the square plot area in px (default 340). */
  size?: number;
  xLabel?: string;
  yLabel?: string;
  /** Colour by log(count) (default true) or linearly. */
  log?: boolean;
  /**
   * Bins merged per displayed cell along each axis: 'auto' (default) merges until the grid is no finer than
   * the plot's pixels and occupied cells average at least 4 counts (sparse zoos would otherwise show dust), or
   * a power of two.
   */
  block?: 'auto' | number;
}

/** Sums b×b blocks of a row-major ny × nx grid (edges padded with empty bins). */
function coarsen(
  counts: ArrayLike<number>,
  nx: number,
  ny: number,
  b: number,
): { counts: Float64Array; nx: number; ny: number } {
  const cx = Math.ceil(nx / b);
  const cy = Math.ceil(ny / b);
  const out = new Float64Array(cx * cy);
  for (let r = 0; r < ny; r++) {
    const o = Math.floor(r / b) * cx;
    for (let c = 0; c < nx; c++) {
      const v = counts[r * nx + c];
      if (isFiniteNumber(v) && v > 0) out[o + Math.floor(c / b)] += v;
    }
  }
  return { counts: out, nx: cx, ny: cy };
}

function autoBlock(counts: ArrayLike<number>, nx: number, ny: number, size: number): number {
  let b = 1;
  while (nx / b > size * 1.05 && b < 64) b *= 2;
  for (; b < 64; b *= 2) {
    const g = coarsen(counts, nx, ny, b);
    let total = 0;
    let occupied = 0;
    for (const v of g.counts) {
      if (v > 0) {
        total += v;
        occupied++;
      }
    }
    if (occupied === 0 || total / occupied >= 4 || g.nx <= 32) break;
  }
  return b;
}

/** Log-colour 2-D histogram (empty bins transparent), with axes and a colour bar of counts. */
export function densitySvg(grid: DensityGridData, options: DensityOptions = {}): string {
  if (!(grid.nx > 0 && grid.ny > 0) || grid.counts.length < grid.nx * grid.ny)
    return emptyPlot('no density grid', options);
  const size = options.size ?? 340;
  const block =
    options.block === undefined || options.block === 'auto'
      ? autoBlock(grid.counts, grid.nx, grid.ny, size)
      : Math.max(1, Math.floor(options.block));
  const shown = coarsen(grid.counts, grid.nx, grid.ny, block);
  const { nx, ny } = shown;
  let max = 0;
  let min = Number.POSITIVE_INFINITY;
  let total = 0;
  for (let i = 0; i < nx * ny; i++) {
    const c = shown.counts[i];
    if (c > 0) {
      total += c;
      if (c > max) max = c;
      if (c < min) min = c;
    }
  }
  if (total === 0) return emptyPlot('no coefficient pairs in the grid', options);
  const log = options.log !== false;
  // log colour from the smallest occupied count (usually 1) to the largest
  const lo = log ? Math.max(Math.min(min, 1), 1e-9) : 0;
  const f = (c: number) =>
    max <= lo ? 1 : log ? Math.log(Math.max(c, lo) / lo) / Math.log(max / lo) : c / max;
  // palette: 0 transparent, 1..255 viridis
  const palette: number[][] = [[0, 0, 0]];
  for (let i = 1; i < 256; i++) palette.push(viridisRgb((i - 1) / 254));
  const idx = new Uint8Array(nx * ny);
  for (let r = 0; r < ny; r++) {
    const src = (ny - 1 - r) * nx; // PNG rows top-down, grid rows bottom-up
    for (let c = 0; c < nx; c++) {
      const v = shown.counts[src + c];
      idx[r * nx + c] = v > 0 ? 1 + Math.round(Math.min(1, f(v)) * 254) : 0;
    }
  }
  const png = base64(encodeIndexedPng(nx, ny, idx, palette, [0]));

  const head = header(options);
  const m = { top: head.height + 6, left: 54, bottom: 44 };
  const x0 = m.left;
  const y0 = m.top;
  const x = linear(grid.x[0], grid.x[1], x0, x0 + size);
  const y = linear(grid.y[0], grid.y[1], y0 + size, y0);
  let body = `<rect x="${x0}" y="${y0}" width="${size}" height="${size}" style="fill:currentColor;fill-opacity:.03"/>`;
  body += `<image x="${x0}" y="${y0}" width="${size}" height="${size}" preserveAspectRatio="none" style="image-rendering:pixelated" href="data:image/png;base64,${png}"><title>${esc(`${fmt(total, 4)} pairs; densest bin ${fmt(max, 4)}`)}</title></image>`;
  body += leftAxis(
    { scale: y, ticks: ticks(grid.y[0], grid.y[1], 6), label: options.yLabel ?? 'coefficient 2' },
    x0,
    y0,
    y0 + size,
  );
  body += bottomAxis(
    { scale: x, ticks: ticks(grid.x[0], grid.x[1], 6), label: options.xLabel ?? 'coefficient 1' },
    y0 + size,
    x0,
    x0 + size,
  );
  body += `<rect class="fdb-frame" x="${x0}" y="${y0}" width="${size}" height="${size}"/>`;
  // colour bar in counts
  const bx = x0 + size + 16;
  const bh = size * 0.7;
  body += colorBarRects(bx, y0, 10, bh, viridisRgb);
  const by = linear(0, 1, y0 + bh, y0);
  const marks: number[] = [];
  if (log) {
    for (let p = Math.ceil(Math.log10(lo)); 10 ** p <= max; p++) marks.push(10 ** p);
    if (marks[marks.length - 1] !== max) marks.push(max);
  } else {
    marks.push(...ticks(0, max, 4));
  }
  let lastY = Number.POSITIVE_INFINITY;
  for (const v of [...marks].sort((a, b) => a - b)) {
    const yy = by(f(v));
    if (lastY - yy < 11 && v !== max) continue;
    lastY = yy;
    body += `<line class="fdb-whisker" x1="${n2(bx + 10)}" x2="${n2(bx + 13)}" y1="${n2(yy)}" y2="${n2(yy)}"/>`;
    body += text(bx + 16, yy, fmt(v, 3), { baseline: 'middle', cls: 'fdb-sub' });
  }
  body += text(bx, y0 + bh + 16, log ? 'filters (log)' : 'filters', { cls: 'fdb-sub' });
  let height = y0 + size + m.bottom;
  const notes: string[] = [];
  if (block > 1) notes.push(`${grid.nx}×${grid.ny} bins shown in ${block}×${block} blocks`);
  if (grid.outside && grid.outside > 0) notes.push(`${fmt(grid.outside, 4)} pairs outside the plotted range`);
  if (notes.length) {
    body += text(x0, height, notes.join(' · '), { cls: 'fdb-note' });
    height += 8;
  }
  return svgDoc(bx + 70, height, head.svg + body, options, () => {
    // the occupied cells as drawn (after merging blocks), lower bin edges
    const dx = (grid.x[1] - grid.x[0]) / nx;
    const dy = (grid.y[1] - grid.y[0]) / ny;
    const rows: number[][] = [];
    for (let j = 0; j < ny; j++)
      for (let i = 0; i < nx; i++) {
        const c = shown.counts[j * nx + i];
        if (c > 0) rows.push([grid.x[0] + i * dx, grid.y[0] + j * dy, c]);
      }
    return {
      columns: [`${options.xLabel ?? 'x'} from`, `${options.yLabel ?? 'y'} from`, 'filters'],
      rows,
      note: `bins ${fmt(dx, 3)} × ${fmt(dy, 3)} wide; empty bins left out`,
    };
  });
}
