import { ensureSyntheticDb } from './shift-data.js';

const n = Number(process.argv[2] ?? 1e7);
const r = await ensureSyntheticDb(process.argv[3] ?? `bench/out/shift-${n}.duckdb`, n, (s) =>
  console.error(s),
);
console.log(r);
