/**
 * Keyboard access to scroll boxes (WCAG 2.1.1): a table or figure that scrolls inside its own box (wide tables,
 * plots kept at their readable size on phones) becomes focusable so arrow keys can scroll it; one that fits loses
 * the extra tab stop again.
 */
const SCROLL_BOXES = '.table-wrap, figure, .figs .grid';

function mark(): void {
  for (const el of document.querySelectorAll<HTMLElement>(SCROLL_BOXES)) {
    const scrolls = el.scrollWidth > el.clientWidth + 1 && getComputedStyle(el).overflowX !== 'visible';
    if (scrolls && !el.hasAttribute('tabindex')) {
      el.tabIndex = 0;
      el.dataset.scrollBox = 'true';
    } else if (!scrolls && el.dataset.scrollBox) {
      el.removeAttribute('tabindex');
      delete el.dataset.scrollBox;
    }
  }
}

let queued = false;
function schedule(): void {
  if (queued) return;
  queued = true;
  requestAnimationFrame(() => {
    queued = false;
    mark();
  });
}

/** Watches the page for new content and size changes. */
export function watchScrollBoxes(): void {
  new MutationObserver(schedule).observe(document.body, { childList: true, subtree: true });
  new ResizeObserver(schedule).observe(document.documentElement);
}
