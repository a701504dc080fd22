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

/** The lower edge of a depth-bin label ("[0.0, 0.1]" → 0, "(0.1, 0.2]" → 0.1), or null for other labels. */
export function depthBinStart(label: string): number | null {
  const m = /^[[(](-?\d+(?:\.\d+)?), (-?\d+(?:\.\d+)?)\]$/.exec(label);
  return m ? Number(m[1]) : null;
}

/**
 * The order to show groups in (indices into `groups`): depth bins by depth (`[0.0, 0.1]` first, any other label
 * after them, `(none)` last), everything else as given. JSON keeps its documented code-point order; text
 * tables and plots use this one.
 */
export function displayOrder(groups: readonly string[]): number[] {
  const order = groups.map((_, i) => i);
  const starts = groups.map(depthBinStart);
  if (!starts.some((s) => s !== null)) return order;
  const rank = (i: number) => (starts[i] !== null ? 0 : groups[i] === NONE_GROUP ? 2 : 1);
  return order.sort(
    (a, b) =>
      rank(a) - rank(b) ||
      (starts[a] !== null && starts[b] !== null ? starts[a]! - starts[b]! : 0) ||
      compareCodePoints(groups[a], groups[b]),
  );
}

/** Column names that hold an id or a count: never a default grouping. */
const ID_OR_COUNT =
  /(^|[\s_-])(id|ids|uid|uuid|hash|count|counts|number|num|total|n)($|[\s_-])|_id$|filters$|params$|share$/i;

/** What {@link defaultGrouping} needs of a metadata column. */
export interface GroupingCandidate {
  name: string;
  /** Distinct values over the models. */
  distinct: number;
  /** Every value is a number (a measurement or an id, not a category). */
  numeric?: boolean;
}

/**
 * The grouping a compare view starts with: the first categorical metadata column that splits the models into
 * groups, preferring one that puts several models in a group; never an id or count column (such as an
 * imported database's `dataset_model_id` or `(3, 3) filters`), a numeric one, or one with a value per model
 * when another will do. `model` when no column qualifies.
 */
export function defaultGrouping(columns: readonly GroupingCandidate[], models: number): string {
  const usable = columns.filter((c) => c.distinct >= 2 && !c.numeric && !ID_OR_COUNT.test(c.name));
  return (usable.find((c) => c.distinct < models) ?? usable[0])?.name ?? 'model';
}
