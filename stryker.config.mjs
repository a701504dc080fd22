// Mutation testing of the numeric core (`npm run mutate`; not in CI: it takes tens of minutes on two cores).
// Stryker instruments src/metrics and src/analysis with every mutant at once, compiles the sandbox once with
// tsc, and runs the compiled test files that cover each mutant (the TAP runner: one node process per file).
// MUTATE=metrics or MUTATE=analysis restricts the run to one folder. Results: reports/mutation/.
const folder = process.env.MUTATE;
const folders = folder ? [folder] : ['metrics', 'analysis'];
// MUTATE_TESTS=a,b replaces the folder's test files (e.g. to leave out the slow ones when time is short).
const tests = {
  metrics: ['metrics', 'linalg', 'gram', 'fixtures-quality', 'properties'],
  analysis: ['analysis', 'bin-edges', 'properties', 'scan-kernels', 'shift-fixtures'],
};

export default {
  mutate: [
    ...folders.map((f) => `src/${f}/**/*.ts`),
    // generated base64 modules
    '!src/**/*-wasm.ts',
  ],
  testRunner: 'tap',
  tap: {
    testFiles: (process.env.MUTATE_TESTS?.split(',') ?? [...new Set(folders.flatMap((f) => tests[f]))]).map(
      (t) => `dist/test/${t}.test.js`,
    ),
    nodeArgs: ['--test-reporter=tap'],
  },
  buildCommand: 'npx tsc -p tsconfig.json',
  coverageAnalysis: 'perTest',
  checkers: [],
  ignorePatterns: [
    '.stryker-tmp',
    'build/node_gyp_bins',
    'reports',
    'test-output',
    '.filterdb',
    'bench/out',
    '*.duckdb',
  ],
  concurrency: Number(process.env.MUTATE_CONCURRENCY ?? 2),
  timeoutMS: 5000,
  timeoutFactor: 2,
  reporters: ['clear-text', 'progress-append-only', 'html', 'json'],
  htmlReporter: { fileName: `reports/mutation/${folder ?? 'all'}.html` },
  jsonReporter: { fileName: `reports/mutation/${folder ?? 'all'}.json` },
  thresholds: { high: 90, low: 80, break: null },
  tempDirName: `.stryker-tmp/${folder ?? 'all'}`,
  cleanTempDir: true,
};
