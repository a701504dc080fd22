/**
 * Downloads: every figure as SVG (standalone: the plot stylesheet and the theme's colours embedded) and PNG
 * (the SVG rasterised at twice its size on a canvas), and a page's data — layer table, drift matrix,
 * coefficient densities — as CSV and JSON. CSV is RFC 4180 (src/cli/table.ts, the CLI's own writer).
 */
import { renderCsv } from '../../src/cli/table.js';
import { PLOT_CSS } from '../../src/report/svg/index.js';
import type { CompareAnswer } from './api.js';
import { h, METRIC_COLUMNS, type TableLayer } from './ui.js';

/** Saves `blob` as `name` through a temporary link. */
export function saveBlob(name: string, blob: Blob): void {
  const url = URL.createObjectURL(blob);
  const a = h('a', { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** A file name from free text ("Drift by Visual Category" → "drift-by-visual-category"). */
export function slug(text: string, fallback = 'figure'): string {
  const s = text
    .toLowerCase()
    .normalize('NFKD')
    .replace(/[^\w.-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 80);
  return s || fallback;
}

/**
 * The figure's SVG as a standalone document: the plot stylesheet (pages share one copy) and the current
 * text and background colours, so `currentColor` ink reads the same outside the page.
 */
export function standaloneSvg(svg: SVGSVGElement): string {
  const copy = svg.cloneNode(true) as SVGSVGElement;
  const cs = getComputedStyle(svg);
  const bg = getComputedStyle(document.body).backgroundColor;
  copy.setAttribute('xmlns', 'http://www.w3.org/2000/svg');
  copy.setAttribute('style', `color:${cs.color};background:${bg}`);
  const vars = ['--fdb-flag', '--fdb-bg', '--fdb-accent', '--fdb-font']
    .map((v) => [v, cs.getPropertyValue(v).trim()])
    .filter(([, value]) => value)
    .map(([v, value]) => `${v}:${value}`)
    .join(';');
  const style = document.createElementNS('http://www.w3.org/2000/svg', 'style');
  style.textContent = `svg{${vars}}${PLOT_CSS.replace(/\n/g, '')}`;
  const title = copy.querySelector(':scope > title');
  copy.insertBefore(style, title ? title.nextSibling : copy.firstChild);
  return `<?xml version="1.0" encoding="UTF-8"?>\n${new XMLSerializer().serializeToString(copy)}\n`;
}

/** The SVG's size in user units (its width/height attributes, else its viewBox). */
function svgSize(svg: SVGSVGElement): { width: number; height: number } {
  const vb = svg.viewBox.baseVal;
  const width = Number(svg.getAttribute('width')) || vb?.width || svg.clientWidth || 1;
  const height = Number(svg.getAttribute('height')) || vb?.height || svg.clientHeight || 1;
  return { width, height };
}

/** Rasterises the figure: a PNG `scale` times the SVG's size, on the page's background colour. */
export async function svgPng(svg: SVGSVGElement, scale = 2): Promise<Blob> {
  const { width, height } = svgSize(svg);
  const text = standaloneSvg(svg);
  const img = new Image();
  img.width = width;
  img.height = height;
  const url = URL.createObjectURL(new Blob([text], { type: 'image/svg+xml' }));
  try {
    img.src = url;
    await img.decode();
    const canvas = document.createElement('canvas');
    canvas.width = Math.round(width * scale);
    canvas.height = Math.round(height * scale);
    const ctx = canvas.getContext('2d')!;
    ctx.fillStyle = getComputedStyle(document.body).backgroundColor || '#fff';
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    ctx.drawImage(img, 0, 0, canvas.width, canvas.height);
    return await new Promise<Blob>((resolve, reject) =>
      canvas.toBlob(
        (b) => (b ? resolve(b) : reject(new Error('the browser could not encode the PNG'))),
        'image/png',
      ),
    );
  } finally {
    URL.revokeObjectURL(url);
  }
}

function button(label: string, cls: string, title: string, action: () => void | Promise<void>): HTMLElement {
  const b = h('button', { type: 'button', class: `dl ${cls}`, title }, label);
  b.addEventListener('click', async () => {
    b.disabled = true;
    try {
      await action();
    } finally {
      b.disabled = false;
    }
  });
  return b;
}

/** SVG and PNG buttons under a figure holding a plot (once per figure). */
function decorateFigure(fig: HTMLElement): void {
  const svg = fig.querySelector<SVGSVGElement>(':scope > svg');
  if (!svg || fig.querySelector(':scope > .fig-downloads')) return;
  const name = () =>
    slug(svg.querySelector(':scope > title')?.textContent ?? fig.className, fig.className || 'figure');
  fig.append(
    h(
      'div',
      { class: 'fig-downloads' },
      button('SVG', 'dl-svg', 'download this figure as SVG', () =>
        saveBlob(`${name()}.svg`, new Blob([standaloneSvg(svg)], { type: 'image/svg+xml' })),
      ),
      button('PNG', 'dl-png', 'download this figure as PNG (2× its size)', async () =>
        saveBlob(`${name()}.png`, await svgPng(svg)),
      ),
    ),
  );
}

/** Gives every plot figure in `root`, now and later, its download buttons. */
export function watchFigures(root: HTMLElement): void {
  const run = () => {
    for (const fig of root.querySelectorAll<HTMLElement>('figure')) decorateFigure(fig);
  };
  new MutationObserver(run).observe(root, { childList: true, subtree: true });
  run();
}

/** A row of data-download buttons: CSV and JSON of the same rows. */
export function dataDownloads(
  id: string,
  what: string,
  base: string,
  csv: () => string,
  json: () => unknown,
): HTMLElement {
  return h(
    'p',
    { class: 'downloads', id },
    h('span', { class: 'muted small' }, `${what}: `),
    button('CSV', `${id}-csv`, `download ${what} as CSV`, () =>
      saveBlob(`${base}.csv`, new Blob([csv()], { type: 'text/csv' })),
    ),
    ' ',
    button('JSON', `${id}-json`, `download ${what} as JSON`, () =>
      saveBlob(
        `${base}.json`,
        new Blob([`${JSON.stringify(json(), null, 1)}\n`], { type: 'application/json' }),
      ),
    ),
  );
}

/** A link (styled as the other downloads) to a report the server writes. */
export function reportLink(href: string, text: string, id: string): HTMLElement {
  return h('a', { href, id, class: 'dl report-link', download: '' }, text);
}

/** The layer table's rows as the page shows them: identity, depth, every metric, flags. */
export function layerRows(layers: readonly TableLayer[]): Record<string, unknown>[] {
  return layers.map((l, i) => {
    const m = l.metrics as Record<string, number | null | undefined>;
    return {
      index: i + 1,
      name: l.name,
      op: l.op,
      kind: l.kind,
      shape: l.shape ? [...l.shape] : null,
      convDepth: l.convDepth,
      ...Object.fromEntries(METRIC_COLUMNS.map(([key]) => [key, m[key] ?? null])),
      flags: l.flags.map((f) => f.id),
    };
  });
}

export function layerTableCsv(layers: readonly TableLayer[]): string {
  const rows = layerRows(layers);
  const headers = [
    'index',
    'name',
    'op',
    'kind',
    'shape',
    'convDepth',
    ...METRIC_COLUMNS.map(([k]) => k),
    'flags',
  ];
  return renderCsv(
    headers,
    rows.map((r) =>
      headers.map((k) => {
        const v = r[k];
        if (k === 'shape') return v ? (v as number[]).join('x') : null;
        if (k === 'flags') return (v as string[]).join(' ');
        return v as string | number | null;
      }),
    ),
  );
}

/** The drift matrix: one row per group with its filter count and its KL divergence to every group. */
export function driftCsv(r: CompareAnswer): string {
  return renderCsv(
    [r.by, 'filters', ...r.groups],
    r.groups.map((g, i) => [g, r.counts[i], ...r.matrix[i]]),
  );
}

export function driftJson(r: CompareAnswer): unknown {
  return { by: r.by, groups: r.groups, counts: r.counts, matrix: r.matrix };
}

/** The KDE curves in long form: coefficient, group, x, density. */
export function densityCsv(r: CompareAnswer): string {
  const rows: (string | number)[][] = [];
  for (const c of r.ridges)
    for (const curve of c.curves)
      for (let k = 0; k < curve.x.length; k++) rows.push([c.index, curve.label, curve.x[k], curve.y[k]]);
  return renderCsv(['coefficient', r.by, 'x', 'density'], rows);
}

export function densityJson(r: CompareAnswer): unknown {
  return { by: r.by, explainedVarianceRatio: r.explainedVarianceRatio, ridges: r.ridges };
}
