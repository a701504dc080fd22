/**
 * Column-name completion for the SQL condition fields: the word at the caret is matched against the
 * layer_info columns; the chosen name is inserted quoted when SQL needs it (`"Visual Category"`).
 */
import { h } from './ui.js';

/** Words that must be quoted to be read as a column name. */
const RESERVED = new Set([
  'all',
  'and',
  'as',
  'between',
  'by',
  'case',
  'cast',
  'desc',
  'distinct',
  'else',
  'end',
  'false',
  'from',
  'group',
  'in',
  'is',
  'like',
  'limit',
  'not',
  'null',
  'on',
  'or',
  'order',
  'select',
  'then',
  'true',
  'when',
  'where',
]);

/** A column name as SQL reads it: as is when a plain identifier, else in double quotes (inner ones doubled). */
export function quoteColumn(name: string): string {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(name) && !RESERVED.has(name.toLowerCase())
    ? name
    : `"${name.replace(/"/g, '""')}"`;
}

/** The partial column name before the caret: an open quote's text, else the identifier being typed. */
export function partialAt(text: string, caret: number): { start: number; word: string } | null {
  const before = text.slice(0, caret);
  // inside string literals nothing is completed
  if ((before.match(/'/g)?.length ?? 0) % 2 === 1) return null;
  if ((before.match(/"/g)?.length ?? 0) % 2 === 1) {
    const start = before.lastIndexOf('"');
    return { start, word: before.slice(start + 1) };
  }
  const m = /[A-Za-z_][A-Za-z0-9_]*$/.exec(before);
  return m ? { start: m.index, word: m[0] } : null;
}

/** Columns matching `word`: prefix matches first, then those containing it; case-insensitive. */
export function matchColumns(columns: readonly string[], word: string, max = 8): string[] {
  const w = word.toLowerCase();
  const prefix = columns.filter((c) => c.toLowerCase().startsWith(w));
  const inside = columns.filter((c) => !c.toLowerCase().startsWith(w) && c.toLowerCase().includes(w));
  return [...prefix, ...inside].filter((c) => c.toLowerCase() !== w || c !== word).slice(0, max);
}

let ids = 0;

/**
 * Adds completion to `input` (a combobox with a listbox under it): arrows move, Enter or Tab takes the
 * highlighted name, Escape closes. Returns the wrapper that replaces the input in the layout.
 */
export function withCompletion(input: HTMLInputElement, columns: readonly string[]): HTMLElement {
  const listId = `${input.id || `sql-${++ids}`}-completions`;
  const list = h('ul', { class: 'completions', role: 'listbox', id: listId, hidden: true });
  input.setAttribute('role', 'combobox');
  input.setAttribute('aria-autocomplete', 'list');
  input.setAttribute('aria-controls', listId);
  input.setAttribute('aria-expanded', 'false');
  input.autocomplete = 'off';
  let shown: string[] = [];
  let taking = false;
  let active = 0;
  const close = () => {
    shown = [];
    list.hidden = true;
    list.replaceChildren();
    input.setAttribute('aria-expanded', 'false');
    input.removeAttribute('aria-activedescendant');
  };
  const paint = () => {
    list.replaceChildren(
      ...shown.map((c, i) => {
        const li = h(
          'li',
          { role: 'option', id: `${listId}-${i}`, 'aria-selected': i === active ? 'true' : 'false' },
          c,
        );
        li.addEventListener('mousedown', (e) => {
          e.preventDefault(); // keep the focus in the field
          take(c);
        });
        return li;
      }),
    );
    list.hidden = shown.length === 0;
    input.setAttribute('aria-expanded', String(shown.length > 0));
    if (shown.length) input.setAttribute('aria-activedescendant', `${listId}-${active}`);
  };
  const take = (column: string) => {
    const caret = input.selectionStart ?? input.value.length;
    const p = partialAt(input.value, caret);
    const start = p ? p.start : caret;
    const after = input.value.slice(caret).replace(/^[A-Za-z0-9_]*"?/, '');
    const inserted = quoteColumn(column);
    input.value = `${input.value.slice(0, start)}${inserted}${after.startsWith(' ') ? '' : ' '}${after}`;
    const at = start + inserted.length + 1;
    input.setSelectionRange(at, at);
    close();
    taking = true; // tell the page the field changed, without reopening the list
    input.dispatchEvent(new Event('input', { bubbles: true }));
    taking = false;
  };
  input.addEventListener('input', () => {
    if (taking) return;
    const p = partialAt(input.value, input.selectionStart ?? input.value.length);
    shown = p && (p.word.length > 0 || input.value[p.start] === '"') ? matchColumns(columns, p.word) : [];
    active = 0;
    paint();
  });
  input.addEventListener('keydown', (e) => {
    if (!shown.length) return;
    if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
      e.preventDefault();
      active = (active + (e.key === 'ArrowDown' ? 1 : shown.length - 1)) % shown.length;
      paint();
    } else if (e.key === 'Enter' || e.key === 'Tab') {
      e.preventDefault();
      take(shown[active]);
    } else if (e.key === 'Escape') {
      e.preventDefault();
      close();
    }
  });
  input.addEventListener('blur', close);
  return h('span', { class: 'complete' }, input, list);
}
