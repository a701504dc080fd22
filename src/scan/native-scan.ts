/**
 * Node-only: the optional native scan reader (native/scan_reader.c, built by scripts/build-native.mjs into
 * build/Release/filterdb_scan.node). It streams `filters` rows from DuckDB's C API straight into the
 * WebAssembly kernels' block columns: ~28 ns a row against ~85 through @duckdb/node-bindings (batch-read.ts),
 * which copies every vector into a fresh buffer. It only moves bytes; the kernels (and so the results) are
 * the same either way. When the addon was not built (no compiler) or FILTERDB_NATIVE_SCAN=0, scans use
 * batch-read.ts.
 */
import { createRequire } from 'node:module';

declare const dbBrand: unique symbol;
declare const scanBrand: unique symbol;
export type NativeDb = { readonly [dbBrand]: true };
export type NativeScan = { readonly [scanBrand]: true };

export interface NativeScanReader {
  /** Read-only instance on `threads` DuckDB threads; memory limit: what opening took + `extraMB`. */
  open(path: string, threads: number, extraMB: number): NativeDb;
  /** A streaming query whose columns are 4-byte types (INTEGER, FLOAT). */
  query(db: NativeDb, sql: string): NativeScan;
  /**
   * Copies the next rows into `dests[c][fill…]` (one 4-byte typed array per column) until `cap` or the end
   * of the result; with `selected`, only rows whose first column (layer_id) indexes a 1 in it. Returns the
   * new fill: below `cap` only when the result has ended.
   */
  fill(
    scan: NativeScan,
    dests: (Float32Array | Int32Array)[],
    fill: number,
    cap: number,
    selected: Uint8Array | null,
  ): number;
  /** Rows read so far, selected or not. */
  seen(scan: NativeScan): number;
  closeScan(scan: NativeScan): void;
  close(db: NativeDb): void;
}

let loaded: NativeScanReader | null | undefined;
let loadError: string | null = null;

/** The native reader, or null when it is not built or disabled (`FILTERDB_NATIVE_SCAN=0`). */
export function nativeScanReader(): NativeScanReader | null {
  if (loaded !== undefined) return loaded;
  loaded = null;
  if (process.env.FILTERDB_NATIVE_SCAN === '0') {
    loadError = 'disabled by FILTERDB_NATIVE_SCAN=0';
    return loaded;
  }
  try {
    // dist/src/scan/native-scan.js → <package>/build/Release
    const require = createRequire(import.meta.url);
    loaded = require('../../../build/Release/filterdb_scan.node') as NativeScanReader;
  } catch (e) {
    loadError = e instanceof Error ? e.message.split('\n')[0] : String(e);
  }
  return loaded;
}

/** Why {@link nativeScanReader} is null (for `--verbose` style diagnostics and tests). */
export function nativeScanUnavailable(): string | null {
  nativeScanReader();
  return loadError;
}
