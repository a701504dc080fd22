/**
 * Node-only: the values this project uses from `@duckdb/node-api`, loaded with `require`. The package is
 * CommonJS; importing it from an ES module makes Node lex every one of its files for named exports, which
 * doubled its load time (≈ 180 ms vs ≈ 95 ms on this project's machine) — paid by every command that opens a
 * database, before its first query. Types still come from the package itself (`import type`).
 */
import { createRequire } from 'node:module';
import type * as NodeApi from '@duckdb/node-api';

const api = createRequire(import.meta.url)('@duckdb/node-api') as typeof NodeApi;

export const {
  BIGINT,
  DuckDBDataChunk,
  DuckDBInstance,
  FLOAT,
  INTEGER,
  JSDuckDBValueConverter,
  LIST,
  listValue,
  SMALLINT,
  VARCHAR,
} = api;
export type DuckDBDataChunk = NodeApi.DuckDBDataChunk;
export type DuckDBInstance = NodeApi.DuckDBInstance;
