// Mutation testing of the numeric core (`npm run mutate`; not in CI: it takes tens of minutes on two cores).
// Stryker instruments the mutated files with every mutant at once, compiles the sandbox once with tsc, and
// runs the compiled test files that cover each mutant (the TAP runner: one node process per test file;
// perTest coverage = which test files reach the mutant).
//
// MUTATE=metrics or MUTATE=analysis restricts the run to one folder; MUTATE=src/metrics/flags.ts (a file or a
// glob) to one file, MUTATE=src/metrics/flags.ts:70:0-70:80 to the mutants in those lines. A single-file run writes its JSON report to bench/mutation/<file>.json, which
// `node dist/bench/mutation-score.js` aggregates into the per-folder score (bench/mutation/README.md).
// MUTATE_TESTS=a,b replaces the folder's test files (names without .test.ts).
const target = process.env.MUTATE;
const folderTests = {
  metrics: ['metrics', 'linalg', 'gram', 'fixtures-quality', 'properties'],
  analysis: ['analysis', 'bin-edges', 'properties', 'scan-kernels', 'shift-fixtures'],
};
const isFolder = target === undefined || target in folderTests;
const folders = target === undefined ? ['metrics', 'analysis'] : isFolder ? [target] : [];
const mutate = isFolder ? folders.map((f) => `src/${f}/**/*.ts`) : [target];
// A file's report name: src/metrics/wasm/gram.ts -> metrics-wasm-gram. A range of lines (Stryker's
// `file.ts:12:4-15:8`, to re-run some mutants after new tests) -> metrics-wasm-gram@12-4-15-8, which the score
// script applies after the file's whole report.
const reportName = (t) => {
  const [file, range] = t.split(/:(.*)/s);
  const base = file
    .replace(/^src\//, '')
    .replace(/\.ts$/, '')
    .replace(/[^\w]+/g, '-');
  return range ? `${base}@${range.replace(/[^\w]+/g, '-')}` : base;
};
const name = isFolder ? (target ?? 'all') : reportName(target);
const defaultTests = isFolder ? [...new Set(folders.flatMap((f) => folderTests[f]))] : [];
const tests = process.env.MUTATE_TESTS?.split(',') ?? defaultTests;
if (tests.length === 0) throw new Error('MUTATE=<file> needs MUTATE_TESTS=<test files that cover it>');
const reportDir = isFolder ? 'reports/mutation' : 'bench/mutation/reports';

export default {
  mutate: [
    ...mutate,
    // generated base64 modules
    '!src/**/*-wasm.ts',
  ],
  testRunner: 'tap',
  tap: {
    testFiles: tests.map((t) => `dist/test/${t}.test.js`),
    nodeArgs: ['--test-reporter=tap'],
  },
  buildCommand: 'npx tsc -p tsconfig.json',
  coverageAnalysis: 'perTest',
  checkers: [],
  ignorePatterns: [
    '.stryker-tmp',
    'build/node_gyp_bins',
    'reports',
    'bench/mutation',
    'test-output',
    '.filterdb',
    'bench/out',
    '*.duckdb',
  ],
  // One mutant at a time by default: the machine is shared (MUTATE_CONCURRENCY=2 on a quiet one).
  concurrency: Number(process.env.MUTATE_CONCURRENCY ?? 1),
  timeoutMS: 5000,
  timeoutFactor: 2,
  reporters: ['clear-text', 'progress-append-only', 'html', 'json'],
  htmlReporter: { fileName: `reports/mutation/${name}.html` },
  jsonReporter: { fileName: `${reportDir}/${name}.json` },
  thresholds: { high: 90, low: 80, break: null },
  tempDirName: `.stryker-tmp/${name}`,
  cleanTempDir: true,
};
