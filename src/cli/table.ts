/** Plain-text aligned tables and CSV for the CLI. */

export type Cell = string | number | null | undefined;

export interface Column {
  header: string;
  /** Right-align (numbers). */
  right?: boolean;
}

/** Formats a number for humans: 4 significant digits, no exponent for ordinary magnitudes. */
export function fmtNumber(x: number | null | undefined, digits = 4): string {
  if (x === null || x === undefined) return '-';
  if (!Number.isFinite(x)) return String(x);
  if (Number.isInteger(x)) return String(x);
  const abs = Math.abs(x);
  if (abs !== 0 && (abs < 1e-3 || abs >= 1e6)) return x.toExponential(digits - 1);
  return x.toFixed(Math.max(0, digits - 1 - Math.max(0, Math.floor(Math.log10(abs || 1)))));
}

export function renderTable(columns: Column[], rows: Cell[][]): string {
  const text = rows.map((r) => r.map((c) => (c === null || c === undefined ? '-' : String(c))));
  const widths = columns.map((c, i) => Math.max(c.header.length, ...text.map((r) => r[i]?.length ?? 0)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (columns[i].right ? c.padStart(widths[i]) : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  const out = [line(columns.map((c) => c.header)), line(widths.map((w) => '-'.repeat(w)))];
  for (const r of text) out.push(line(r));
  return out.join('\n');
}

/** RFC 4180 CSV (quotes fields with commas, quotes or newlines). */
export function renderCsv(headers: string[], rows: Cell[][]): string {
  const esc = (c: Cell) => {
    const s = c === null || c === undefined ? '' : String(c);
    return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  return [headers.map(esc).join(','), ...rows.map((r) => r.map(esc).join(','))].join('\n') + '\n';
}
