/**
 * Colour maps. Weights use a diverging blue–white–red map (ColorBrewer RdBu, reversed so negative is blue and
 * positive red; colour-blind safe, symmetric around a white zero). Densities and drift use viridis
 * (perceptually uniform, colour-blind safe, readable in greyscale). Categories use the Okabe–Ito palette.
 */
import { n2 } from './core.js';

export type Rgb = [number, number, number];

function hex(h: string): Rgb {
  const v = Number.parseInt(h.slice(1), 16);
  return [(v >> 16) & 255, (v >> 8) & 255, v & 255];
}

/** ColorBrewer RdBu (11 classes) from blue (t = 0) through white to red (t = 1). */
const RDBU = [
  '#053061',
  '#2166ac',
  '#4393c3',
  '#92c5de',
  '#d1e5f0',
  '#f7f7f7',
  '#fddbc7',
  '#f4a582',
  '#d6604d',
  '#b2182b',
  '#67001f',
].map(hex);

/** Viridis, 11 stops (matplotlib's, as published in d3-scale-chromatic). */
const VIRIDIS = [
  '#440154',
  '#482475',
  '#414487',
  '#355f8d',
  '#2a788e',
  '#21918c',
  '#22a884',
  '#44bf70',
  '#7ad151',
  '#bddf26',
  '#fde725',
].map(hex);

/** Okabe & Ito's colour-blind-safe qualitative palette, ordered for contrast on light and dark grounds. */
export const CATEGORICAL = [
  '#0072b2',
  '#e69f00',
  '#009e73',
  '#cc79a7',
  '#56b4e9',
  '#d55e00',
  '#f0e442',
  '#999999',
];

function interpolate(stops: Rgb[], t: number): Rgb {
  if (!Number.isFinite(t)) t = 0.5;
  const x = Math.min(1, Math.max(0, t)) * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(x));
  const f = x - i;
  const a = stops[i];
  const b = stops[i + 1];
  return [a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f, a[2] + (b[2] - a[2]) * f];
}

export function toHex(c: Rgb): string {
  let s = '#';
  for (const v of c)
    s += Math.round(Math.min(255, Math.max(0, v)))
      .toString(16)
      .padStart(2, '0');
  return s;
}

/** Diverging map on t in [0, 1] (0.5 = white). */
export function divergingRgb(t: number): Rgb {
  return interpolate(RDBU, t);
}

/** Sequential viridis on t in [0, 1]. */
export function viridisRgb(t: number): Rgb {
  return interpolate(VIRIDIS, t);
}

export type ColorMapName = 'diverging' | 'viridis';

export function colorMap(name: ColorMapName): (t: number) => Rgb {
  return name === 'diverging' ? divergingRgb : viridisRgb;
}

/** Colour of a signed value in a symmetric range [-limit, limit]. */
export function divergingColor(v: number, limit: number): string {
  if (!Number.isFinite(v)) return NON_FINITE_COLOR;
  const t = limit > 0 ? 0.5 + v / (2 * limit) : 0.5;
  return toHex(divergingRgb(t));
}

/** Fill for values that are NaN/±Inf (a neutral grey, distinct from the white zero of the diverging map). */
export const NON_FINITE_COLOR = '#8c8c8c';

/** Relative luminance (sRGB, WCAG) — to choose black or white text on a coloured cell. */
export function luminance(c: Rgb): number {
  const f = (v: number) => {
    const s = v / 255;
    return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]);
}

/** Black or white, whichever reads better on `c`. */
export function inkOn(c: Rgb): string {
  return luminance(c) > 0.22 ? '#111' : '#fff';
}

/**
 * A vertical colour bar drawn with small rects (no gradient, so no document-global ids are needed when many
 * plots share a page). `map` takes t in [0, 1]; t = 1 is at the top.
 */
export function colorBarRects(
  x: number,
  y: number,
  width: number,
  height: number,
  map: (t: number) => Rgb,
  steps = 64,
): string {
  let s = '<g shape-rendering="crispEdges">';
  const h = height / steps;
  for (let i = 0; i < steps; i++) {
    const t = (i + 0.5) / steps;
    const top = y + height - (i + 1) * h;
    s += `<rect x="${n2(x)}" y="${n2(top)}" width="${n2(width)}" height="${n2(h + 0.6)}" fill="${toHex(map(t))}"/>`;
  }
  s += '</g>';
  s += `<rect class="fdb-frame" x="${n2(x)}" y="${n2(y)}" width="${n2(width)}" height="${n2(height)}"/>`;
  return s;
}
