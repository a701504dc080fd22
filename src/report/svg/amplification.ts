/**
 * The first-layer probe's bar chart: ‖Δ output‖ / ‖Δ input‖ per output channel, sorted high to low, with the
 * layer's mean as a dashed line. Each bar carries its channel and value (data-channel, data-value) and a
 * `<title>` tooltip; the root has a title and a description for screen readers.
 */
import {
  esc,
  header,
  leftAxis,
  linear,
  n2,
  niceDomain,
  type PlotFrameOptions,
  svgDoc,
  text,
  ticks,
} from './core.js';

export interface AmplificationPlotOptions extends PlotFrameOptions {
  width?: number;
  height?: number;
  /** Upper end of the value axis (to share one scale between two models); default from the data. */
  max?: number;
  /** Bar fill (default the accent colour). */
  color?: string;
}

export function amplificationBarsSvg(
  ratios: ArrayLike<number>,
  mean: number,
  o: AmplificationPlotOptions = {},
): string {
  const width = o.width ?? 520;
  const height = o.height ?? 240;
  const head = header(o);
  const order = Array.from({ length: ratios.length }, (_, i) => i).sort((a, b) => ratios[b] - ratios[a]);
  let hi = o.max ?? 0;
  for (let i = 0; i < ratios.length; i++) if (Number.isFinite(ratios[i])) hi = Math.max(hi, ratios[i]);
  const [, top] = niceDomain(0, hi > 0 ? hi : 1, 4);
  const left = 48;
  const right = width - 8;
  const y0 = head.height + 8;
  const y1 = height - 30;
  const y = linear(0, top, y1, y0);
  const step = (right - left) / Math.max(1, order.length);
  const gap = step > 4 ? 1 : 0;
  let bars = '';
  order.forEach((c, rank) => {
    const v = ratios[c];
    const yy = y(Math.max(0, v));
    bars += `<rect class="fdb-ampbar" data-channel="${c}" data-value="${v}" x="${n2(left + rank * step + gap / 2)}" y="${n2(yy)}" width="${n2(Math.max(0.5, step - gap))}" height="${n2(Math.max(0, y1 - yy))}" style="fill:${esc(o.color ?? 'var(--fdb-accent,#0072b2)')}"><title>channel ${c}: ${v.toPrecision(4)}</title></rect>`;
  });
  const labelEvery = Math.max(1, Math.ceil(12 / step));
  let xLabels = '';
  order.forEach((c, rank) => {
    if (rank % labelEvery === 0)
      xLabels += text(left + (rank + 0.5) * step, y1 + 12, String(c), { anchor: 'middle', cls: 'fdb-muted' });
  });
  const ym = y(mean);
  const meanLine =
    `<line class="fdb-thr fdb-ampmean" data-value="${mean}" x1="${left}" x2="${n2(right)}" y1="${n2(ym)}" y2="${n2(ym)}"/>` +
    text(right - 2, ym - 4, `layer mean ${mean.toPrecision(3)}`, { anchor: 'end', cls: 'fdb-thr-label' });
  const axis = leftAxis({ scale: y, ticks: ticks(0, top, 4), label: '‖Δout‖ / ‖Δin‖' }, left, y0, y1, right);
  const content =
    head.svg +
    axis +
    bars +
    meanLine +
    xLabels +
    text((left + right) / 2, height - 4, 'output channel, sorted by amplification', {
      anchor: 'middle',
      cls: 'fdb-muted',
    });
  return svgDoc(
    width,
    height,
    content,
    {
      ...o,
      description:
        o.description ??
        `Per-channel amplification of the perturbation, ${ratios.length} channels sorted high to low; layer mean ${mean.toPrecision(3)}`,
    },
    () => ({
      columns: ['channel', '‖Δout‖/‖Δin‖'],
      rows: Array.from(ratios, (v, c) => [c, v]),
      note: `layer mean ${mean.toPrecision(5)}`,
    }),
  );
}
