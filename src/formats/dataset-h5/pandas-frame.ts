/** The DataFrame both pandas HDF5 readers (fixed format: pandas-h5.ts, table format: pandas-table-h5.ts) give. */
export type Cell = string | number | boolean | null;

export interface PandasFrame {
  columns: string[];
  /** Index level names (MultiIndex) or ["index"]. */
  indexNames: string[];
  /** Per row: index values then the column values, by name, in `columns` order (whatever the storage). */
  rows: { index: Cell[]; values: Map<string, Cell> }[];
}
