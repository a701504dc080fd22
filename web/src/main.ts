/** The filterdb web app: hash routes, theme switch, page errors. */
import { PAGE_CSS } from '../../src/report/html.js';
import { PLOT_CSS } from '../../src/report/svg/index.js';
import { info } from './api.js';
import { cohortsPage } from './cohorts.js';
import { watchFigures } from './download.js';
import { dropPage } from './drop.js';
import { followLayerView, setLayerSource } from './layer-view.js';
import { comparePage, modelPage, modelsPage } from './pages.js';
import { type Route, startRouter } from './router.js';
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

async function render(r: Route): Promise<void> {
  root.dataset.ready = 'false';
  const page = r.page;
  for (const a of document.querySelectorAll<HTMLAnchorElement>('nav a'))
    a.classList.toggle('active', a.dataset.nav === (page === 'model' ? 'models' : page));
  const dialog = document.getElementById('dialog') as HTMLDialogElement;
  dialog.onclose = null;
  if (dialog.open) dialog.close();
  followLayerView(null);
  setLayerSource(null); // the page being shown registers its model again (closes the layer view)
  root.dataset.page = page;
  try {
    if (page === 'drop') dropPage(root, r);
    else if (page === 'compare') await comparePage(root, r);
    else if (page === 'cohorts') await cohortsPage(root, r);
    else if (page === 'model' && r.model !== null) await modelPage(root, r.model, r.layer);
    else await modelsPage(root);
  } catch (e) {
    root.replaceChildren(
      errorBox((e as Error).message),
      h('p', {}, h('a', { href: '#/' }, 'Back to the models')),
    );
  }
  root.dataset.ready = 'true';
}

void info().then((i) => {
  document.getElementById('dbname')!.textContent = i.db ? i.db.split(/[\\/]/).pop()! : 'no database';
  document.getElementById('dbname')!.title = i.db ?? 'started without --db';
});
// figures anywhere (pages, the layer dialog) get their SVG and PNG buttons
watchFigures(document.body);
startRouter(render);
