/** Group labels for distribution-shift analyses. */

/** The label of a missing grouping value. */
export const NONE_GROUP = '(none)';

/**
 * Depth decile of a normalised conv depth, as pandas.cut(edges 0, 0.1, …, 1.0, include_lowest=True,
 * right-closed): "[0.0, 0.1]", "(0.1, 0.2]", …, "(0.9, 1.0]". Null outside [0, 1].
 */
export function depthDecile(norm: number): string | null {
  if (!(norm >= 0 && norm <= 1)) return null;
  for (let i = 0; i < 10; i++) {
    const hi = (i + 1) / 10;
    if (norm <= hi) {
      const lo = i / 10;
      return i === 0 ? `[${lo.toFixed(1)}, ${hi.toFixed(1)}]` : `(${lo.toFixed(1)}, ${hi.toFixed(1)}]`;
    }
  }
  return null;
}

/** Code-point order, as the fixtures define (not localeCompare). */
export function compareCodePoints(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
