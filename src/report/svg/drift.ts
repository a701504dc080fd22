/** Distribution-shift plots: the KL drift heat-map and drift boxplots. */
import { displayOrder } from '../../analysis/groups.js';
import { colorBarRects, divergingRgb, inkOn, NON_FINITE_COLOR, toHex, viridisRgb } from './color.js';
import {
  emptyPlot,
  esc,
  fmt,
  header,
  isFiniteNumber,
  leftAxis,
  linear,
  n2,
  niceDomain,
  type PlotFrameOptions,
  svgDoc,
  text,
  textWidth,
  tickLabel,
  ticks,
  truncate,
} from './core.js';

export interface DriftMatrixData {
  groups: readonly string[];
  matrix: readonly (readonly number[])[];
  /** Filters per group (shown in tooltips). */
  counts?: readonly number[];
  /** Name of the grouping (axis title). */
  by?: string;
}

export interface DriftHeatmapOptions extends PlotFrameOptions {
  /** Cell side in px (default: 44 for few groups, shrinking to 14). */
  cell?: number;
  /** Print values in cells: 'auto' (default: when ≤ 12 groups), true or false. */
  showValues?: boolean | 'auto';
  /** Longest label before it is cut with "…" (default 28 characters; full text stays in the tooltip). */
  maxLabelLength?: number;
  /** Upper end of the colour scale (default: the matrix maximum); set it to compare several heat-maps. */
  colorMax?: number;
  /** Signed values (e.g. correlations): a diverging map over [−colorMax, colorMax], diagonal values printed. */
  diverging?: boolean;
  /** Colour-bar caption (default "sym. KL"). */
  legendLabel?: string;
  /** Put each group's filter count on its label ("DigitsCNN (1,152)"), not only in the tooltips. */
  countsOnLabels?: boolean;
}

/** Upper-triangle values of a square matrix (the pairwise drifts). */
export function upperTriangle(matrix: readonly (readonly number[])[]): number[] {
  const out: number[] = [];
  for (let a = 0; a < matrix.length; a++)
    for (let b = a + 1; b < matrix.length; b++) out.push(matrix[a]?.[b]);
  return out;
}

/** The matrix with its groups in display order (depth bins by depth; analysis/groups.ts). */
function inDisplayOrder(data: DriftMatrixData): DriftMatrixData {
  const order = displayOrder(data.groups);
  if (order.every((v, i) => v === i)) return data;
  return {
    ...data,
    groups: order.map((i) => data.groups[i]),
    matrix: order.map((i) => order.map((j) => data.matrix[i][j])),
    counts: data.counts ? order.map((i) => data.counts![i]) : undefined,
  };
}

/** Symmetric KL drift matrix as a heat-map with group labels, colour bar and (for few groups) values. */
export function driftHeatmapSvg(input: DriftMatrixData, options: DriftHeatmapOptions = {}): string {
  const data = inDisplayOrder(input);
  const g = data.groups.length;
  if (g === 0) return emptyPlot('no groups', options);
  const maxLen = options.maxLabelLength ?? 28;
  const labels = data.groups.map(
    (s, i) =>
      truncate(String(s), maxLen) +
      (options.countsOnLabels && data.counts ? ` (${data.counts[i].toLocaleString('en-US')})` : ''),
  );
  const cell = options.cell ?? Math.max(14, Math.min(44, Math.floor(440 / g)));
  const showValues =
    options.showValues === 'auto' || options.showValues === undefined
      ? g <= 12 && cell >= 30
      : options.showValues;
  const diverging = options.diverging === true;
  let vmax = 0;
  for (let a = 0; a < g; a++)
    for (let b = 0; b < g; b++) {
      const v = data.matrix[a]?.[b];
      if (isFiniteNumber(v)) vmax = Math.max(vmax, diverging ? Math.abs(v) : v);
    }
  const cmax =
    isFiniteNumber(options.colorMax) && options.colorMax > 0 ? options.colorMax : vmax > 0 ? vmax : 1;
  const cmin = diverging ? -cmax : 0;
  const colorOf = (v: number) => (diverging ? divergingRgb((v / cmax + 1) / 2) : viridisRgb(v / cmax));

  const fontPx = cell < 18 ? 9 : 11;
  const labelW = Math.max(...labels.map((l) => textWidth(l, fontPx)), 10);
  const rotate = labelW > cell - 4;
  const head = header(options);
  const left = Math.ceil(labelW) + 12;
  const top = head.height + 4;
  const gridW = g * cell;
  const bottomLabelH = rotate ? labelW * 0.72 + 14 : 18;
  const axisTitleH = data.by ? 16 : 0;

  let body = '';
  const labelStyle = fontPx !== 11 ? ' style="font-size:9px"' : '';
  body += `<g shape-rendering="crispEdges">`;
  for (let a = 0; a < g; a++) {
    for (let b = 0; b < g; b++) {
      const v = data.matrix[a]?.[b];
      const finite = isFiniteNumber(v);
      const rgb = colorOf(finite ? v : 0);
      const fill = finite ? toHex(rgb) : NON_FINITE_COLOR;
      const na = data.counts ? ` (${data.counts[a]} filters)` : '';
      const nb = data.counts ? ` (${data.counts[b]} filters)` : '';
      const tip = `${data.groups[a]}${na} vs ${data.groups[b]}${nb}: ${finite ? fmt(v, 4) : 'undefined'}`;
      body += `<rect x="${n2(left + b * cell)}" y="${n2(top + a * cell)}" width="${cell}" height="${cell}" fill="${fill}"><title>${esc(tip)}</title></rect>`;
    }
  }
  body += '</g>';
  if (showValues) {
    for (let a = 0; a < g; a++) {
      for (let b = 0; b < g; b++) {
        const v = data.matrix[a]?.[b];
        const finite = isFiniteNumber(v);
        const ink = finite ? inkOn(colorOf(v)) : '#111';
        const s = finite ? (a === b && !diverging ? '0' : fmt(v, v >= 10 ? 3 : 2)) : '–';
        body += `<text x="${n2(left + b * cell + cell / 2)}" y="${n2(top + a * cell + cell / 2)}" text-anchor="middle" dominant-baseline="central" style="fill:${ink};font-size:${cell >= 40 ? 10.5 : 9}px;pointer-events:none">${esc(s)}</text>`;
      }
    }
  }
  body += `<rect class="fdb-frame" x="${left}" y="${top}" width="${gridW}" height="${gridW}"/>`;
  // row labels (left) and column labels (bottom)
  for (let a = 0; a < g; a++) {
    body += `<text x="${n2(left - 6)}" y="${n2(top + a * cell + cell / 2)}" text-anchor="end" dominant-baseline="central"${labelStyle}><title>${esc(data.groups[a])}</title>${esc(labels[a])}</text>`;
    const cx = left + a * cell + cell / 2;
    const cy = top + gridW + 8;
    body += rotate
      ? `<text x="${n2(cx)}" y="${n2(cy)}" text-anchor="end" dominant-baseline="hanging" transform="rotate(-45 ${n2(cx)} ${n2(cy)})"${labelStyle}><title>${esc(data.groups[a])}</title>${esc(labels[a])}</text>`
      : `<text x="${n2(cx)}" y="${n2(cy)}" text-anchor="middle" dominant-baseline="hanging"${labelStyle}><title>${esc(data.groups[a])}</title>${esc(labels[a])}</text>`;
  }
  let height = top + gridW + bottomLabelH;
  if (data.by) {
    height += axisTitleH;
    body += text(left + gridW / 2, height - 2, data.by, { anchor: 'middle', cls: 'fdb-muted' });
  }
  // colour bar
  const bx = left + gridW + 18;
  const bh = Math.max(60, Math.min(gridW, 220));
  body += colorBarRects(bx, top, 10, bh, diverging ? divergingRgb : viridisRgb);
  const bt = ticks(cmin, cmax, 4);
  const by = linear(cmin, cmax, top + bh, top);
  const step = bt.length > 1 ? bt[1] - bt[0] : cmax;
  for (const t of bt) {
    body += `<line class="fdb-whisker" x1="${n2(bx + 10)}" x2="${n2(bx + 13)}" y1="${n2(by(t))}" y2="${n2(by(t))}"/>`;
    body += text(bx + 16, by(t), tickLabel(t, step), { baseline: 'middle', cls: 'fdb-sub' });
  }
  body += text(bx - 2, top + bh + 16, options.legendLabel ?? 'sym. KL', { cls: 'fdb-sub' });
  const width = bx + 16 + Math.max(...bt.map((t) => textWidth(tickLabel(t, step), 10.5)), 30) + 6;
  const extra = rotate ? Math.max(0, labelW * 0.72 - left) : 0;
  return svgDoc(
    width + extra,
    Math.max(height, top + bh + 24),
    head.svg + (extra ? `<g transform="translate(${n2(extra)},0)">${body}</g>` : body),
    options,
    () => ({
      columns: [input.by ?? 'group', ...(input.counts ? ['filters'] : []), ...input.groups],
      rows: input.groups.map((g, i) => [g, ...(input.counts ? [input.counts[i]] : []), ...input.matrix[i]]),
    }),
  );
}

export interface BoxSeries {
  label: string;
  /** A drift matrix (its upper triangle is used) … */
  matrix?: readonly (readonly number[])[];
  /** … or the values themselves. */
  values?: readonly number[];
}

export interface DriftBoxplotOptions extends PlotFrameOptions {
  width?: number;
  height?: number;
  yLabel?: string;
  /** Draw every value as a jittered dot (default true). */
  points?: boolean;
}

/** Quartiles by linear interpolation (as analysis/drift.ts driftSummary), Tukey whiskers at 1.5 IQR. */
export function boxStats(values: readonly number[]): {
  n: number;
  q1: number;
  median: number;
  q3: number;
  lo: number;
  hi: number;
  min: number;
  max: number;
} | null {
  const v = values.filter(isFiniteNumber).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const q = (f: number) => {
    const pos = f * (v.length - 1);
    const lo = Math.floor(pos);
    const hi = Math.ceil(pos);
    return v[lo] + (v[hi] - v[lo]) * (pos - lo);
  };
  const q1 = q(0.25);
  const q3 = q(0.75);
  const iqr = q3 - q1;
  const lo = v.find((x) => x >= q1 - 1.5 * iqr) ?? v[0];
  const hi = [...v].reverse().find((x) => x <= q3 + 1.5 * iqr) ?? v[v.length - 1];
  return { n: v.length, q1, median: q(0.5), q3, lo, hi, min: v[0], max: v[v.length - 1] };
}

/** Deterministic jitter in [-0.5, 0.5) from an index (no Math.random, so output is reproducible). */
function jitter(i: number): number {
  let h = Math.imul(i + 1, 0x9e3779b1) >>> 0;
  h ^= h >>> 15;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  return (h >>> 8) / 16777216 - 0.5;
}

/** Boxplots of pairwise drift values, one box per series (e.g. per grouping). */
export function driftBoxplotSvg(series: readonly BoxSeries[], options: DriftBoxplotOptions = {}): string {
  const data = series.map((s) => ({
    label: s.label,
    values: (s.values ?? (s.matrix ? upperTriangle(s.matrix) : [])).filter(isFiniteNumber),
  }));
  if (data.length === 0) return emptyPlot('no drift values', options);
  const all = data.flatMap((d) => d.values);
  const head = header(options);
  const labelW = Math.max(...data.map((d) => textWidth(truncate(d.label, 28))), 10);
  const slot = Math.max(48, Math.min(110, 520 / data.length));
  const rotate = labelW > slot - 6;
  const width = options.width ?? Math.max(260, 70 + slot * data.length + 16);
  const height = options.height ?? 260;
  const m = { top: head.height + 10, right: 16, bottom: rotate ? 20 + labelW * 0.72 : 46, left: 62 };
  if (all.length === 0) {
    return emptyPlot('no pairs to compare (a grouping needs at least two groups)', {
      ...options,
      width,
      height: Math.min(height, 120),
    });
  }
  const [d0, d1] = niceDomain(0, Math.max(...all), 4);
  const y = linear(d0, d1, height - m.bottom, m.top);
  const plotW = width - m.left - m.right;
  const sw = plotW / data.length;
  let body = leftAxis(
    { scale: y, ticks: ticks(d0, d1, 4), label: options.yLabel ?? 'pairwise drift (sym. KL)' },
    m.left,
    m.top,
    height - m.bottom,
    width - m.right,
  );
  body += `<g class="fdb-axis"><line x1="${m.left}" x2="${n2(width - m.right)}" y1="${n2(height - m.bottom)}" y2="${n2(height - m.bottom)}"/></g>`;
  data.forEach((d, i) => {
    const cx = m.left + sw * (i + 0.5);
    const bw = Math.min(44, sw * 0.5);
    const st = boxStats(d.values);
    const lab = truncate(d.label, 28);
    const ly = height - m.bottom + 8;
    body += rotate
      ? `<text x="${n2(cx)}" y="${n2(ly)}" text-anchor="end" dominant-baseline="hanging" transform="rotate(-45 ${n2(cx)} ${n2(ly)})"><title>${esc(d.label)}</title>${esc(lab)}</text>`
      : `<text x="${n2(cx)}" y="${n2(ly)}" text-anchor="middle" dominant-baseline="hanging"><title>${esc(d.label)}</title>${esc(lab)}</text>`;
    if (!st) {
      body += text(cx, (m.top + height - m.bottom) / 2, 'no pairs', { anchor: 'middle', cls: 'fdb-note' });
      return;
    }
    const tip = `${d.label}: ${st.n} pair${st.n === 1 ? '' : 's'}; median ${fmt(st.median)}, IQR ${fmt(st.q1)}–${fmt(st.q3)}, range ${fmt(st.min)}–${fmt(st.max)}`;
    body += `<g><title>${esc(tip)}</title>`;
    body += `<line class="fdb-whisker" x1="${n2(cx)}" x2="${n2(cx)}" y1="${n2(y(st.lo))}" y2="${n2(y(st.q1))}"/>`;
    body += `<line class="fdb-whisker" x1="${n2(cx)}" x2="${n2(cx)}" y1="${n2(y(st.q3))}" y2="${n2(y(st.hi))}"/>`;
    body += `<line class="fdb-whisker" x1="${n2(cx - bw / 4)}" x2="${n2(cx + bw / 4)}" y1="${n2(y(st.lo))}" y2="${n2(y(st.lo))}"/>`;
    body += `<line class="fdb-whisker" x1="${n2(cx - bw / 4)}" x2="${n2(cx + bw / 4)}" y1="${n2(y(st.hi))}" y2="${n2(y(st.hi))}"/>`;
    body += `<rect class="fdb-box" x="${n2(cx - bw / 2)}" y="${n2(y(st.q3))}" width="${n2(bw)}" height="${n2(Math.max(1, y(st.q1) - y(st.q3)))}"/>`;
    body += `<line class="fdb-median" x1="${n2(cx - bw / 2)}" x2="${n2(cx + bw / 2)}" y1="${n2(y(st.median))}" y2="${n2(y(st.median))}"/>`;
    body += '</g>';
    if (options.points !== false) {
      d.values.forEach((v, j) => {
        const outlier = v < st.lo || v > st.hi;
        body += `<circle class="fdb-dot" cx="${n2(cx + jitter(j) * bw * 0.8)}" cy="${n2(y(v))}" r="${outlier ? 2.6 : 1.8}"><title>${esc(fmt(v, 4))}</title></circle>`;
      });
    }
  });
  return svgDoc(width, height, head.svg + body, options, () => ({
    columns: ['group', 'pairs', 'min', 'q1', 'median', 'q3', 'max'],
    rows: data.map((d) => {
      const st = boxStats(d.values);
      return [
        d.label,
        st?.n ?? 0,
        st?.min ?? null,
        st?.q1 ?? null,
        st?.median ?? null,
        st?.q3 ?? null,
        st?.max ?? null,
      ];
    }),
  }));
}
