/**
 * Self-contained HTML pages: inline CSS, inline SVG, and a tiny inline script for niceties only (sortable
 * tables, a light/dark/auto theme toggle). Opens offline, follows prefers-color-scheme, prints in light colours
 * without page breaks inside figures. Pure string building (isomorphic).
 */
import { esc, PLOT_CSS } from './svg/core.js';

export { esc as escapeHtml };

export interface HtmlSection {
  id: string;
  title: string;
  /** Lead paragraph(s), HTML (escape your text). */
  intro?: string;
  /** Section content, HTML. */
  body: string;
}

export interface HtmlPage {
  title: string;
  /** One line under the title (HTML). */
  subtitle?: string;
  /** The short plain-words summary at the top (HTML). */
  summary?: string;
  sections: HtmlSection[];
  /** Footer line (HTML), e.g. the generator and date. */
  footer?: string;
  /** Show a table of contents (default: when there are 3 or more sections). */
  toc?: boolean;
}

export const PAGE_CSS = `
:root{--fdb-bg:#ffffff;--fdb-fg:#1d2126;--fdb-muted:#5b6470;--fdb-border:#d9dde3;--fdb-panel:#f6f7f9;--fdb-accent:#0072b2;--fdb-flag:#b34d00;--fdb-ok:#007a5a;--fdb-warn:#8a5d00;color-scheme:light}
@media (prefers-color-scheme:dark){:root:not([data-theme=light]){--fdb-bg:#15181c;--fdb-fg:#e4e7eb;--fdb-muted:#9aa4b0;--fdb-border:#343a42;--fdb-panel:#1d2126;--fdb-accent:#56b4e9;--fdb-flag:#ff8a3d;--fdb-ok:#3cc79b;--fdb-warn:#e3b341;color-scheme:dark}}
:root[data-theme=dark]{--fdb-bg:#15181c;--fdb-fg:#e4e7eb;--fdb-muted:#9aa4b0;--fdb-border:#343a42;--fdb-panel:#1d2126;--fdb-accent:#56b4e9;--fdb-flag:#ff8a3d;--fdb-ok:#3cc79b;--fdb-warn:#e3b341;color-scheme:dark}
*{box-sizing:border-box}
html{background:var(--fdb-bg);color:var(--fdb-fg)}
body{margin:0;font:14px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;background:var(--fdb-bg);color:var(--fdb-fg)}
main{max-width:1240px;margin:0 auto;padding:28px 32px 48px}
header.page{border-bottom:1px solid var(--fdb-border);padding-bottom:14px;margin-bottom:18px;position:relative}
h1{font-size:24px;margin:0 0 4px;font-weight:650;letter-spacing:-.01em;overflow-wrap:anywhere;padding-right:120px}
h2{font-size:18px;margin:34px 0 8px;font-weight:650;padding-top:8px;border-top:1px solid var(--fdb-border)}
h3{font-size:14.5px;margin:20px 0 6px;font-weight:620;overflow-wrap:anywhere}
h4{font-size:13.5px;margin:18px 0 2px;font-weight:600;overflow-wrap:anywhere}
h4+p{margin-top:0}
p{margin:6px 0 10px;max-width:82ch}
.sub{color:var(--fdb-muted);margin:0}
.muted{color:var(--fdb-muted)}
code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12.5px}
.summary{background:var(--fdb-panel);border:1px solid var(--fdb-border);border-left:4px solid var(--fdb-accent);border-radius:6px;padding:12px 16px;margin:14px 0 6px}
.summary p{margin:4px 0}
.summary.bad{border-left-color:var(--fdb-flag)}
.summary.good{border-left-color:var(--fdb-ok)}
nav.toc{display:flex;flex-wrap:wrap;gap:6px;margin:10px 0 0}
nav.toc a{font-size:12.5px;color:var(--fdb-fg);text-decoration:none;border:1px solid var(--fdb-border);border-radius:999px;padding:2px 10px}
nav.toc a:hover{border-color:var(--fdb-accent);color:var(--fdb-accent)}
.theme-toggle{position:absolute;right:0;top:2px;font:inherit;font-size:12px;color:var(--fdb-fg);background:var(--fdb-panel);border:1px solid var(--fdb-border);border-radius:6px;padding:3px 10px;cursor:pointer}
.figs{display:flex;flex-wrap:wrap;gap:18px 28px;align-items:flex-start;margin:8px 0}
figure{margin:0;max-width:100%;break-inside:avoid;page-break-inside:avoid}
figure svg{max-width:100%;height:auto;display:block;color:var(--fdb-fg)}
figcaption{font-size:12.5px;color:var(--fdb-muted);margin-top:4px;max-width:80ch}
.table-wrap{overflow-x:auto;margin:8px 0;border:1px solid var(--fdb-border);border-radius:6px}
table{border-collapse:collapse;width:100%;font-size:12.5px;font-variant-numeric:tabular-nums}
th,td{padding:5px 9px;border-bottom:1px solid var(--fdb-border);text-align:left;vertical-align:top}
th{background:var(--fdb-panel);font-weight:600;white-space:nowrap;position:sticky;top:0}
tr:last-child td{border-bottom:0}
td.num,th.num{text-align:right}
td.name{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12px;overflow-wrap:anywhere;max-width:36ch}
td.nowrap{white-space:nowrap}
td.reasons-cell{min-width:30ch}
tr.flagged td{background:color-mix(in srgb,var(--fdb-flag) 7%,transparent)}
table.sortable th{cursor:pointer;user-select:none}
table.sortable th[aria-sort=ascending]::after{content:" ▲";font-size:9px}
table.sortable th[aria-sort=descending]::after{content:" ▼";font-size:9px}
.chip{display:inline-block;font-size:11px;line-height:1.5;border-radius:4px;padding:0 6px;margin:1px 3px 1px 0;border:1px solid currentColor;white-space:nowrap}
.chip.flag{color:var(--fdb-flag)}
.chip.info{color:var(--fdb-muted)}
.reasons{margin:2px 0 0;padding-left:16px;color:var(--fdb-muted);font-size:12px}
.grid-cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(170px,1fr));gap:10px;margin:10px 0}
.card{border:1px solid var(--fdb-border);border-radius:6px;padding:8px 12px;background:var(--fdb-panel)}
.card .v{font-size:20px;font-weight:650}
.card .k{font-size:12px;color:var(--fdb-muted)}
footer{margin-top:40px;padding-top:10px;border-top:1px solid var(--fdb-border);color:var(--fdb-muted);font-size:12px}
@media print{
:root,:root[data-theme=dark]{--fdb-bg:#fff;--fdb-fg:#000;--fdb-muted:#444;--fdb-border:#bbb;--fdb-panel:#f4f4f4;--fdb-accent:#0072b2;--fdb-flag:#c04a00;color-scheme:light}
main{max-width:none;padding:0}
body{font-size:11pt}
.theme-toggle,nav.toc{display:none}
h2{break-after:avoid;page-break-after:avoid}
h3,h4{break-after:avoid;page-break-after:avoid}
.table-wrap{overflow:visible;border:0}
th{position:static}
tr{break-inside:avoid;page-break-inside:avoid}
a{color:inherit;text-decoration:none}
}
`;

/** Sortable tables and the theme toggle; everything works without it. */
export const PAGE_SCRIPT = `
(function(){
var root=document.documentElement,btn=document.querySelector('.theme-toggle');
function apply(t){if(t==='auto')root.removeAttribute('data-theme');else root.setAttribute('data-theme',t);if(btn)btn.textContent='theme: '+t;}
var saved='auto';try{saved=localStorage.getItem('filterdb-theme')||'auto'}catch(e){}
apply(saved);
if(btn)btn.addEventListener('click',function(){var order=['auto','light','dark'];var cur=root.getAttribute('data-theme')||'auto';var next=order[(order.indexOf(cur)+1)%3];apply(next);try{localStorage.setItem('filterdb-theme',next)}catch(e){}});
document.querySelectorAll('table.sortable').forEach(function(table){
var ths=table.tHead?table.tHead.rows[0].cells:[];
Array.prototype.forEach.call(ths,function(th,i){th.tabIndex=0;function sort(){
var dir=th.getAttribute('aria-sort')==='ascending'?'descending':'ascending';
Array.prototype.forEach.call(ths,function(o){o.removeAttribute('aria-sort')});th.setAttribute('aria-sort',dir);
var body=table.tBodies[0],rows=Array.prototype.slice.call(body.rows);
function key(r){var c=r.cells[i];if(!c)return '';var s=c.getAttribute('data-sort');if(s===null)s=c.textContent.trim();var n=parseFloat(s);return s!==''&&isFinite(s)?n:s.toLowerCase();}
rows.sort(function(a,b){var x=key(a),y=key(b);var t=typeof x==='number'&&typeof y==='number'?x-y:String(x)<String(y)?-1:String(x)>String(y)?1:0;return dir==='ascending'?t:-t;});
rows.forEach(function(r){body.appendChild(r)});}
th.addEventListener('click',sort);th.addEventListener('keydown',function(e){if(e.key==='Enter'||e.key===' '){e.preventDefault();sort();}});});
});
})();
`;

function minify(css: string): string {
  return css.replace(/\n/g, '').trim();
}

/** A complete HTML document. Plots inside should be rendered with `embedStyle: false` (the page carries PLOT_CSS). */
export function renderHtmlPage(page: HtmlPage): string {
  const toc = page.toc ?? page.sections.length >= 3;
  const nav = toc
    ? `<nav class="toc" aria-label="Sections">${page.sections.map((s) => `<a href="#${esc(s.id)}">${esc(s.title)}</a>`).join('')}</nav>`
    : '';
  const sections = page.sections
    .map((s) => `<section id="${esc(s.id)}"><h2>${esc(s.title)}</h2>${s.intro ?? ''}${s.body}</section>`)
    .join('\n');
  return (
    '<!doctype html>\n' +
    '<html lang="en"><head><meta charset="utf-8">' +
    '<meta name="viewport" content="width=device-width,initial-scale=1">' +
    '<meta name="color-scheme" content="light dark">' +
    `<title>${esc(page.title)}</title>` +
    `<style>${minify(PAGE_CSS)}${minify(PLOT_CSS)}</style></head>\n` +
    '<body><main>' +
    `<header class="page"><h1>${esc(page.title)}</h1>` +
    (page.subtitle ? `<p class="sub">${page.subtitle}</p>` : '') +
    '<button class="theme-toggle" type="button" title="Switch between automatic, light and dark colours">theme: auto</button>' +
    nav +
    '</header>\n' +
    (page.summary ?? '') +
    '\n' +
    sections +
    (page.footer ? `\n<footer>${page.footer}</footer>` : '') +
    `</main><script>${PAGE_SCRIPT.trim()}</script></body></html>\n`
  );
}

/** A figure: inline SVG and an optional caption (HTML). */
export function figure(svg: string, caption?: string): string {
  return `<figure>${svg}${caption ? `<figcaption>${caption}</figcaption>` : ''}</figure>`;
}

/** A row of figures that wraps on narrow screens. */
export function figureRow(...figures: string[]): string {
  return `<div class="figs">${figures.join('')}</div>`;
}

export type CellValue =
  | string
  | number
  | null
  | undefined
  | { html: string; sort?: string | number; cls?: string; title?: string };

export interface TableColumn {
  header: string;
  /** Right-aligned numbers (default false). */
  numeric?: boolean;
  /** Header tooltip. */
  title?: string;
  /** Extra class on the cells (e.g. "name"). */
  cls?: string;
}

export interface TableOptions {
  /** Click-to-sort headers (default true). */
  sortable?: boolean;
  /** Class per row (e.g. "flagged"). */
  rowClass?: (index: number) => string | undefined;
  caption?: string;
}

/** Formats a number for a table cell (compact, no "NaN"). */
export function cellNumber(x: number | null | undefined, digits = 3): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return '–';
  if (Number.isInteger(x)) return String(x);
  const a = Math.abs(x);
  if (a >= 1e5 || a < 1e-3) return x.toExponential(2);
  return x.toFixed(digits);
}

/** An HTML table (escaped text cells, optional HTML cells), sortable by default. */
export function htmlTable(
  columns: readonly TableColumn[],
  rows: readonly (readonly CellValue[])[],
  options: TableOptions = {},
): string {
  const sortable = options.sortable !== false;
  const head = columns
    .map(
      (c) =>
        `<th${c.numeric ? ' class="num"' : ''}${c.title ? ` title="${esc(c.title)}"` : ''} scope="col">${esc(c.header)}</th>`,
    )
    .join('');
  const body = rows
    .map((row, ri) => {
      const rc = options.rowClass?.(ri);
      const cells = columns
        .map((c, ci) => {
          const v = row[ci];
          const cls = [c.numeric ? 'num' : '', c.cls ?? ''];
          let content: string;
          let sort: string | number | undefined;
          let title: string | undefined;
          if (v !== null && typeof v === 'object') {
            content = v.html;
            sort = v.sort;
            title = v.title;
            if (v.cls) cls.push(v.cls);
          } else if (typeof v === 'number') {
            content = esc(cellNumber(v));
            sort = Number.isFinite(v) ? v : '';
          } else {
            content = v === null || v === undefined ? '<span class="muted">–</span>' : esc(v);
            if (v === null || v === undefined) sort = '';
          }
          const clsText = cls.filter(Boolean).join(' ');
          return `<td${clsText ? ` class="${clsText}"` : ''}${sort !== undefined ? ` data-sort="${esc(sort)}"` : ''}${title ? ` title="${esc(title)}"` : ''}>${content}</td>`;
        })
        .join('');
      return `<tr${rc ? ` class="${esc(rc)}"` : ''}>${cells}</tr>`;
    })
    .join('\n');
  return (
    `<div class="table-wrap"><table${sortable ? ' class="sortable"' : ''}>` +
    (options.caption ? `<caption>${esc(options.caption)}</caption>` : '') +
    `<thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table></div>`
  );
}

/** Small key-figure cards ("12 layers", "3 degenerated"). */
export function cards(items: readonly { value: string | number; label: string }[]): string {
  return `<div class="grid-cards">${items.map((i) => `<div class="card"><div class="v">${esc(i.value)}</div><div class="k">${esc(i.label)}</div></div>`).join('')}</div>`;
}
