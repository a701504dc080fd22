/**
 * Linked views: the metric-over-depth plots (drawn with `hitColumns`, so each layer has a `data-layer` column
 * per panel) and the layer table (rows with `data-index`). Hovering a layer in a plot highlights its table row
 * and shows a crosshair and an HTML tooltip with the layer's values; hovering or focusing a row highlights its
 * points in every plot; clicking a plot column opens the layer's detail view.
 */
import { fmt, h, type TableLayer } from './ui.js';

interface Linked {
  figures: HTMLElement[];
  rows: Map<number, HTMLTableRowElement>;
  current: number | null;
}

function metricOf(l: TableLayer, key: string): number | null {
  if (key === 'alpha') {
    const v = l.spectral?.alpha ?? (l.metrics as Record<string, number | null | undefined>).alpha;
    return v ?? null;
  }
  const v = (l.metrics as Record<string, number | null | undefined>)[key];
  return v ?? null;
}

const TIP_METRICS: [string, string][] = [
  ['sparsity', 'sparsity'],
  ['varianceEntropyNorm', 'var. entropy (norm.)'],
  ['orthogonality', 'orthogonality'],
  ['alpha', 'alpha'],
];

/** The tooltip's content for layer `i`. */
function tipContent(l: TableLayer, i: number): (HTMLElement | string)[] {
  const rows = TIP_METRICS.filter(([key]) => key !== 'alpha' || metricOf(l, key) !== null).map(
    ([key, label]) =>
      h('tr', {}, h('th', {}, label), h('td', { class: 'num', 'data-key': key }, fmt(metricOf(l, key), 4))),
  );
  const flags = l.flags.map((f) => f.id);
  return [
    h('div', { class: 'tip-name' }, l.name),
    h(
      'div',
      { class: 'tip-sub' },
      `layer ${i + 1}${l.convDepth !== null ? ` · depth ${l.convDepth}` : ''}${l.shape ? ` · ${l.shape.join('×')}` : ''}`,
    ),
    h('table', {}, h('tbody', {}, rows)),
    flags.length ? h('div', { class: 'tip-flags' }, `flags: ${flags.join(', ')}`) : '',
    h('div', { class: 'tip-hint' }, 'click for the layer’s filters'),
  ];
}

/**
 * Links the plots in `figures` (figures holding a metricCurvesSvg with hitColumns) with the rows of `table`
 * (a layerTable) for `layers`; `open(i)` shows layer i's detail view.
 */
export function linkPlotsAndTable(
  figures: readonly HTMLElement[],
  table: HTMLElement,
  layers: readonly TableLayer[],
  open: (index: number) => void,
): { select(index: number | null): void } {
  const state: Linked = {
    figures: [...figures],
    rows: new Map(
      Array.from(table.querySelectorAll<HTMLTableRowElement>('tbody tr[data-index]')).map((r) => [
        Number(r.dataset.index),
        r,
      ]),
    ),
    current: null,
  };

  const highlight = (i: number | null) => {
    if (state.current === i) return;
    if (state.current !== null) {
      state.rows.get(state.current)?.classList.remove('linked');
      for (const f of state.figures)
        for (const el of f.querySelectorAll(`[data-layer="${state.current}"]`))
          el.classList.remove('fdb-linked');
    }
    state.current = i;
    if (i === null) return;
    state.rows.get(i)?.classList.add('linked');
    for (const f of state.figures)
      for (const el of f.querySelectorAll(`[data-layer="${i}"]`)) el.classList.add('fdb-linked');
  };

  for (const fig of state.figures) {
    fig.classList.add('linked-plot');
    const tip = h('div', { class: 'plot-tip', role: 'tooltip', hidden: true });
    const cross = h('div', { class: 'crosshair', hidden: true, 'aria-hidden': 'true' });
    const crossH = h('div', { class: 'crosshair h', hidden: true, 'aria-hidden': 'true' });
    fig.append(cross, crossH, tip);
    const svg = fig.querySelector('svg');
    if (!svg) continue;
    const hitOf = (e: Event) => (e.target as Element).closest?.('.fdb-hit') as SVGRectElement | null;
    svg.addEventListener('mousemove', (e) => {
      const hit = hitOf(e);
      if (!hit) return;
      const i = Number(hit.dataset.layer);
      highlight(i);
      const box = fig.getBoundingClientRect();
      const r = hit.getBoundingClientRect();
      const x = r.left + r.width / 2 - box.left;
      cross.hidden = false;
      cross.style.left = `${x}px`;
      cross.style.top = `${r.top - box.top}px`;
      cross.style.height = `${r.height}px`;
      // the horizontal line at the layer's value in this panel (its point inside the hit column)
      const point = Array.from(svg.querySelectorAll(`circle[data-layer="${i}"]`))
        .map((c) => c.getBoundingClientRect())
        .find((c) => c.top + c.height / 2 >= r.top && c.top + c.height / 2 <= r.bottom);
      crossH.hidden = !point;
      if (point) {
        const cols = svg.querySelectorAll(`.fdb-hit[data-panel="${hit.dataset.panel}"]`);
        const from = cols[0].getBoundingClientRect().left - box.left;
        const to = cols[cols.length - 1].getBoundingClientRect().right - box.left;
        crossH.style.top = `${point.top + point.height / 2 - box.top}px`;
        crossH.style.left = `${from}px`;
        crossH.style.width = `${to - from}px`;
      }
      if (tip.dataset.layer !== String(i)) {
        tip.replaceChildren(...tipContent(layers[i], i));
        tip.dataset.layer = String(i);
      }
      tip.hidden = false;
      // beside the pointer, flipped to stay inside the figure
      const tx = e.clientX - box.left + 14;
      const ty = e.clientY - box.top + 12;
      const w = tip.offsetWidth;
      tip.style.left = `${tx + w > box.width ? Math.max(0, tx - w - 28) : tx}px`;
      tip.style.top = `${ty}px`;
    });
    svg.addEventListener('mouseleave', () => {
      tip.hidden = true;
      cross.hidden = true;
      crossH.hidden = true;
      highlight(null);
    });
    svg.addEventListener('click', (e) => {
      const hit = hitOf(e);
      if (hit) open(Number(hit.dataset.layer));
    });
  }

  for (const [i, row] of state.rows) {
    row.addEventListener('mouseenter', () => highlight(i));
    row.addEventListener('focus', () => highlight(i));
    row.addEventListener('mouseleave', () => highlight(null));
    row.addEventListener('blur', () => highlight(null));
  }

  // the layer the detail view shows stays marked while the user hovers elsewhere
  let selected: number | null = null;
  return {
    select(i) {
      if (selected !== null) {
        state.rows.get(selected)?.classList.remove('current');
        for (const f of state.figures)
          for (const el of f.querySelectorAll(`[data-layer="${selected}"]`))
            el.classList.remove('fdb-current');
      }
      selected = i;
      if (i === null) return;
      state.rows.get(i)?.classList.add('current');
      for (const f of state.figures)
        for (const el of f.querySelectorAll(`[data-layer="${i}"]`)) el.classList.add('fdb-current');
    },
  };
}
