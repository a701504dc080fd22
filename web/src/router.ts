/**
 * Hash routes: every page state lives in the URL, so a link, a reload and back/forward restore it.
 *
 *   #/                                  models
 *   #/model/0   #/model/0/layer/12      a database model, optionally with a layer open (the API's layer index)
 *   #/compare?by=Task&by=depth&where=…  compare by groupings (`by` repeated), optional condition
 *   #/compare?mode=select&a=…&b=…&la=A&lb=B   compare two selections
 *   #/cohorts?by=…&correlate=…&where=…
 *   #/drop   #/drop/layer/3             the dropped-file page (a file cannot be in a URL: only the open layer)
 *
 * A page that can follow a change of its own state without being rebuilt (a layer opened or closed) registers
 * an `update` for it; otherwise the page is rendered anew from the URL.
 */

export type PageName = 'models' | 'model' | 'compare' | 'cohorts' | 'drop';

export interface Route {
  page: PageName;
  /** The model id of `#/model/N`. */
  model: string | null;
  /** The open layer of `#/model/N/layer/L` and `#/drop/layer/L`. */
  layer: number | null;
  query: URLSearchParams;
}

const PAGES = new Set<string>(['models', 'model', 'compare', 'cohorts', 'drop']);

/** Parses a location hash ("#/model/0/layer/12", "#/compare?by=Task"); unknown pages are the models list. */
export function parseRoute(hash: string): Route {
  const text = hash.replace(/^#\/?/, '');
  const q = text.indexOf('?');
  const path = q < 0 ? text : text.slice(0, q);
  const query = new URLSearchParams(q < 0 ? '' : text.slice(q + 1));
  const parts = path.split('/').filter(Boolean).map(safeDecode);
  const page = (PAGES.has(parts[0]) ? parts[0] : 'models') as PageName;
  const rest = page === 'model' ? parts.slice(2) : parts.slice(1);
  const model = page === 'model' ? (parts[1] ?? null) : null;
  const layer =
    rest[0] === 'layer' && /^\d+$/.test(rest[1] ?? '') && Number(rest[1]) <= Number.MAX_SAFE_INTEGER
      ? Number(rest[1])
      : null;
  if (page === 'model' && model === null) return { page: 'models', model: null, layer: null, query };
  return { page, model, layer, query };
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** The hash of a route (the inverse of {@link parseRoute}). */
export function routeHash(r: {
  page: PageName;
  model?: string | number | null;
  layer?: number | null;
  query?: URLSearchParams | Record<string, string | string[] | null | undefined>;
}): string {
  let path = r.page === 'models' ? '' : r.page;
  if (r.page === 'model') path += `/${encodeURIComponent(String(r.model))}`;
  if ((r.page === 'model' || r.page === 'drop') && r.layer !== null && r.layer !== undefined)
    path += `/layer/${r.layer}`;
  const q = r.query instanceof URLSearchParams ? r.query : queryOf(r.query ?? {});
  const qs = q.toString().replace(/\+/g, '%20');
  return `#/${path}${qs ? `?${qs}` : ''}`;
}

/** Query parameters from a record: arrays repeat the key; empty strings, null and undefined are left out. */
export function queryOf(params: Record<string, string | string[] | null | undefined>): URLSearchParams {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    for (const one of Array.isArray(v) ? v : [v])
      if (one !== null && one !== undefined && one !== '') q.append(k, one);
  }
  return q;
}

/** What a page must be rebuilt for: another page or another model (a layer or a query is page state). */
function pageKey(r: Route): string {
  return r.page === 'model' ? `model/${r.model}` : r.page;
}

type Updater = (r: Route) => boolean | Promise<boolean>;
let current: { key: string; update: Updater | null } = { key: '', update: null };

/**
 * Called by a page while it renders: `update` is asked first when the URL changes to another state of the same
 * page (true: handled, no rebuild).
 */
export function onSamePage(update: Updater): void {
  current.update = update;
}

/**
 * Records a new state of the shown page in the URL and history without rebuilding it (the page has already
 * shown it). `replace`: the state corrects the current entry (a default filled in) instead of adding one.
 */
export function pushState(hash: string, replace = false): void {
  if (hash === location.hash || (location.hash === '' && hash === '#/')) return;
  // a pushed entry remembers the entry before it (see popState)
  if (replace) history.replaceState(history.state, '', hash);
  else history.pushState({ filterdbBack: location.hash || '#/' }, '', hash);
}

/**
 * Leaves a sub-state (a layer closed) for `hash`: back in history when the entry before is exactly that state,
 * so back/forward stay natural; otherwise (the page was opened at the layer's URL) the entry is replaced.
 */
export function popState(hash: string): void {
  if (hash === location.hash) return;
  const state = history.state as { filterdbBack?: string } | null;
  if (state?.filterdbBack === hash) history.back();
  else history.replaceState(null, '', hash);
}

/**
 * Starts routing: `render` builds a page from a route; it runs now and on every hash change that the page
 * itself does not handle through its `onSamePage` updater.
 */
export function startRouter(render: (r: Route) => Promise<void>): void {
  const go = async () => {
    const r = parseRoute(location.hash);
    const key = pageKey(r);
    if (key === current.key && current.update) {
      try {
        if (await current.update(r)) return;
      } catch {
        // a failed update falls through to a rebuild, which shows the error
      }
    }
    current = { key, update: null };
    await render(r);
  };
  window.addEventListener('hashchange', () => void go());
  void go();
}
