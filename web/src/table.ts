/**
 * Sortable, filterable tables: each header becomes a sort button (aria-sort on the header), and a toolbar of
 * filters (a search box, checkboxes, selects over row attributes) hides rows that do not match. Works on the
 * table's own DOM: a cell sorts by its `data-sort` or `data-value` attribute, else its text; rows keep their
 * listeners and attributes, so the pages' row links and the plot links keep working after a sort.
 */
import { h } from './ui.js';

export type RowFilter =
  /** A checkbox that keeps only the rows with `className` when checked. */
  | { type: 'class'; label: string; className: string; id: string }
  /** A select over the distinct values of `data-<attr>` (empty values left out); "all" keeps every row. */
  | { type: 'attr'; label: string; attr: string; id: string }
  /** A search box: keeps the rows whose text contains the words (case-insensitive). */
  | { type: 'search'; label: string; id: string; placeholder?: string };

export interface TableControls {
  /** Re-applies sort and filters (after rows change). */
  refresh(): void;
  /** The visible rows, in order. */
  visibleRows(): HTMLTableRowElement[];
}

function cellValue(row: HTMLTableRowElement, col: number): string {
  const cell = row.cells[col];
  if (!cell) return '';
  return cell.dataset.sort ?? cell.dataset.value ?? cell.textContent?.trim() ?? '';
}

function asNumber(s: string): number | null {
  if (s === '' || s === 'null' || s === '–' || s === 'n/a') return null;
  const n = Number(s.replace(/,/g, ''));
  return Number.isFinite(n) ? n : null;
}

/** Makes `table` sortable and puts a filter toolbar (labelled controls) before `before` (default: the table). */
export function enhanceTable(
  table: HTMLTableElement,
  filters: readonly RowFilter[],
  before: Element = table,
): TableControls {
  const body = table.tBodies[0];
  const all = Array.from(body.rows);
  const original = new Map(all.map((r, i) => [r, i]));
  let sortCol = -1;
  let sortDir: 1 | -1 = 1;
  const controls: { filter: RowFilter; el: HTMLInputElement | HTMLSelectElement }[] = [];
  const count = h('span', { class: 'muted small table-count', 'aria-live': 'polite' });

  const headers = Array.from(table.tHead?.rows[0]?.cells ?? []);
  headers.forEach((th, col) => {
    const label = Array.from(th.childNodes);
    const button = h('button', { type: 'button', class: 'sort', title: th.title || null });
    button.append(...label);
    th.replaceChildren(button);
    th.setAttribute('aria-sort', 'none');
    button.addEventListener('click', () => {
      sortDir = sortCol === col ? (-sortDir as 1 | -1) : th.classList.contains('num') ? -1 : 1;
      sortCol = col;
      for (const other of headers) other.setAttribute('aria-sort', 'none');
      th.setAttribute('aria-sort', sortDir === 1 ? 'ascending' : 'descending');
      apply();
    });
  });
  table.classList.add('sortable');

  const bar = h('div', { class: 'table-tools', role: 'group', 'aria-label': 'Filter the table' });
  for (const f of filters) {
    if (f.type === 'class') {
      const box = h('input', { type: 'checkbox', id: f.id });
      bar.append(h('label', { class: 'check' }, box, ` ${f.label}`));
      controls.push({ filter: f, el: box });
    } else if (f.type === 'attr') {
      const values = [...new Set(all.map((r) => r.dataset[f.attr] ?? '').filter(Boolean))].sort();
      if (values.length < 2) continue;
      const select = h(
        'select',
        { id: f.id },
        h('option', { value: '' }, 'all'),
        values.map((v) => h('option', { value: v }, v)),
      );
      bar.append(h('label', { for: f.id }, `${f.label} `), select);
      controls.push({ filter: f, el: select });
    } else {
      const input = h('input', { type: 'search', id: f.id, placeholder: f.placeholder ?? null });
      bar.append(h('label', { for: f.id }, `${f.label} `), input);
      controls.push({ filter: f, el: input });
    }
  }
  bar.append(count);
  for (const c of controls)
    c.el.addEventListener(c.el instanceof HTMLSelectElement ? 'change' : 'input', apply);
  before.before(bar);

  function keep(row: HTMLTableRowElement): boolean {
    for (const { filter, el } of controls) {
      if (filter.type === 'class') {
        if ((el as HTMLInputElement).checked && !row.classList.contains(filter.className)) return false;
      } else if (filter.type === 'attr') {
        if (el.value && row.dataset[filter.attr] !== el.value) return false;
      } else {
        const words = el.value.toLowerCase().split(/\s+/).filter(Boolean);
        const text = (row.textContent ?? '').toLowerCase();
        if (!words.every((w) => text.includes(w))) return false;
      }
    }
    return true;
  }

  function apply(): void {
    const rows = [...all];
    if (sortCol >= 0) {
      const values = rows.map((r) => cellValue(r, sortCol));
      const numeric = values.every((v) => asNumber(v) !== null || v === '' || v === 'null' || v === '–');
      const key = new Map(rows.map((r, i) => [r, values[i]]));
      rows.sort((a, b) => {
        const va = key.get(a)!;
        const vb = key.get(b)!;
        if (numeric) {
          const na = asNumber(va);
          const nb = asNumber(vb);
          // missing values last in either direction
          if (na === null || nb === null)
            return na === nb ? original.get(a)! - original.get(b)! : na === null ? 1 : -1;
          if (na !== nb) return (na - nb) * sortDir;
        } else {
          const c = va.localeCompare(vb, 'en', { numeric: true, sensitivity: 'base' });
          if (c !== 0) return c * sortDir;
        }
        return original.get(a)! - original.get(b)!;
      });
    }
    let shown = 0;
    for (const r of rows) {
      const ok = keep(r);
      r.hidden = !ok;
      if (ok) shown++;
    }
    body.append(...rows);
    count.textContent = shown === all.length ? `${all.length} rows` : `showing ${shown} of ${all.length}`;
  }

  apply();
  return {
    refresh: apply,
    visibleRows: () => Array.from(body.rows).filter((r) => !r.hidden),
  };
}

/** The filters of a layer table (ui.ts's layerTable rows carry data-op, data-kind, data-kernel). */
export const LAYER_FILTERS: RowFilter[] = [
  { type: 'search', label: 'Find', id: 'layer-search', placeholder: 'layer name or flag' },
  { type: 'class', label: 'flagged only', className: 'flagged', id: 'flagged-only' },
  { type: 'attr', label: 'op', attr: 'op', id: 'filter-op' },
  { type: 'attr', label: 'kind', attr: 'kind', id: 'filter-kind' },
  { type: 'attr', label: 'kernel', attr: 'kernel', id: 'filter-kernel' },
];

/** Sort and filter a layer table made by ui.ts's layerTable (the `.table-wrap` it returns). */
export function enhanceLayerTable(wrap: HTMLElement): TableControls {
  return enhanceTable(wrap.querySelector('table')!, LAYER_FILTERS, wrap);
}
