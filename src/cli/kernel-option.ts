/** The `--kernel KxK` option of the filter-space analyses (`shift`, `pca`, `cohorts`): one definition. */
export const KERNEL_OPTION = [
  '--kernel <KxK>',
  'filter space: the stored filters of this kernel size (default 3x3; 5x5, 7x7, … need `ingest --kernel all`)',
] as const;
