/** The filterdb web app: hash routes, theme switch, page errors. */
import { PAGE_CSS } from '../../src/report/html.js';
import { PLOT_CSS } from '../../src/report/svg/index.js';
import { info } from './api.js';
import { cohortsPage } from './cohorts.js';
import { dropPage } from './drop.js';
import { comparePage, modelPage, modelsPage } from './pages.js';
import './style.css';
import { watchScrollBoxes } from './scroll-boxes.js';
import { errorBox, h } from './ui.js';

const style = document.createElement('style');
style.textContent = PAGE_CSS + PLOT_CSS;
document.head.prepend(style);

const THEMES = ['auto', 'light', 'dark'] as const;
const themeButton = document.getElementById('theme') as HTMLButtonElement;
function applyTheme(t: string): void {
  if (t === 'auto') document.documentElement.removeAttribute('data-theme');
  else document.documentElement.setAttribute('data-theme', t);
  themeButton.textContent = `theme: ${t}`;
}
let theme = localStorage.getItem('filterdb-theme') ?? 'auto';
applyTheme(theme);
themeButton.addEventListener('click', () => {
  theme = THEMES[(THEMES.indexOf(theme as (typeof THEMES)[number]) + 1) % THEMES.length];
  localStorage.setItem('filterdb-theme', theme);
  applyTheme(theme);
});

watchScrollBoxes();
const root = document.getElementById('app')!;

async function route(): Promise<void> {
  const hash = location.hash.replace(/^#\/?/, '');
  const [page, arg] = hash.split('/');
  for (const a of document.querySelectorAll<HTMLAnchorElement>('nav a'))
    a.classList.toggle(
      'active',
      a.dataset.nav === (page || 'models') || (page === 'model' && a.dataset.nav === 'models'),
    );
  const dialog = document.getElementById('dialog') as HTMLDialogElement;
  if (dialog.open) dialog.close();
  root.dataset.page = page || 'models';
  try {
    if (page === 'drop') dropPage(root);
    else if (page === 'compare') await comparePage(root);
    else if (page === 'cohorts') await cohortsPage(root);
    else if (page === 'model' && arg) await modelPage(root, decodeURIComponent(arg));
    else await modelsPage(root);
  } catch (e) {
    root.replaceChildren(
      errorBox((e as Error).message),
      h('p', {}, h('a', { href: '#/' }, 'Back to the models')),
    );
  }
  root.dataset.ready = 'true';
}

window.addEventListener('hashchange', () => {
  root.dataset.ready = 'false';
  void route();
});
void info().then((i) => {
  document.getElementById('dbname')!.textContent = i.db ? i.db.split(/[\\/]/).pop()! : 'no database';
  document.getElementById('dbname')!.title = i.db ?? 'started without --db';
});
void route();
