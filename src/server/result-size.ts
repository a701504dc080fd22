/**
 * Node-only: how big a result row will be as JSON, read from DuckDB's vectors before anything is converted to
 * JS values — so the SQL endpoint can stop before the row that breaks its byte cap instead of converting it
 * (`SELECT range(0, 30000000)` is one row of 30 M numbers: converting it took GBs). Sizes are estimates of
 * the JSON text (numbers and dates as fixed widths, strings by their byte length, blobs as base64), counted
 * only up to the budget: a huge cell costs work proportional to the budget, not to the cell.
 */
import type { DuckDBDataChunk, DuckDBType } from '@duckdb/node-api';
import duckdb from '@duckdb/node-bindings';

/** Estimated JSON bytes of item `row`; may stop counting once past `budget` (any larger answer means "over"). */
interface Sizer {
  size(row: number, budget: number): number;
  /** Set when every item has this size (lists of them are sized by their length alone). */
  fixed?: number;
}

const T = duckdb.Type;
const STRING_TYPES = new Set<number>([T.VARCHAR, T.BLOB, T.BIT, T.BIGNUM, T.GEOMETRY]);
const WIDE_TYPES = new Set<number>([
  T.HUGEINT,
  T.UHUGEINT,
  T.UUID,
  T.INTERVAL,
  T.DECIMAL,
  T.TIMESTAMP,
  T.TIMESTAMP_S,
  T.TIMESTAMP_MS,
  T.TIMESTAMP_NS,
  T.TIMESTAMP_TZ,
  T.TIME_TZ,
]);

function fixed(bytes: number): Sizer {
  return { size: () => bytes, fixed: bytes };
}

/** A sizer over `count` items of `vector`, of `type`. */
function sizer(vector: duckdb.Vector, type: DuckDBType, count: number): Sizer {
  const id = type.typeId as number;
  if (STRING_TYPES.has(id)) {
    // duckdb_string_t: 16 bytes an item, the length first
    const data = duckdb.vector_get_data(vector, count * 16);
    const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    const scale = id === T.VARCHAR ? 1 : 4 / 3; // blobs are answered as base64
    const valid = validity(vector, count); // a NULL's bytes are undefined
    return { size: (row) => (valid(row) ? 2 + Math.ceil(view.getUint32(row * 16, true) * scale) : 4) };
  }
  if (id === T.LIST || id === T.MAP) {
    const entries = duckdb.vector_get_data(vector, count * 16);
    const pairs = new BigUint64Array(entries.buffer, entries.byteOffset, count * 2);
    const valid = validity(vector, count);
    const childVector = duckdb.list_vector_get_child(vector);
    const childCount = duckdb.list_vector_get_size(vector);
    const child =
      id === T.LIST
        ? sizer(childVector, (type as { valueType: DuckDBType }).valueType, childCount)
        : structSizer(
            childVector,
            [
              ['key', (type as { keyType: DuckDBType }).keyType],
              ['value', (type as { valueType: DuckDBType }).valueType],
            ],
            childCount,
          );
    return {
      size(row, budget) {
        if (!valid(row)) return 4;
        const offset = Number(pairs[row * 2]);
        const length = Number(pairs[row * 2 + 1]);
        return 2 + itemsSize(child, offset, length, budget);
      },
    };
  }
  if (id === T.ARRAY) {
    const { valueType, length } = type as unknown as { valueType: DuckDBType; length: number };
    const child = sizer(duckdb.array_vector_get_child(vector), valueType, count * length);
    return { size: (row, budget) => 2 + itemsSize(child, row * length, length, budget) };
  }
  if (id === T.STRUCT) {
    const t = type as unknown as { entryNames: readonly string[]; entryTypes: readonly DuckDBType[] };
    return structSizer(
      vector,
      t.entryNames.map((n, i) => [n, t.entryTypes[i]]),
      count,
    );
  }
  if (id === T.UNION) {
    // a struct of the tag and one child per member
    const t = type as unknown as { memberTags: readonly string[]; memberTypes: readonly DuckDBType[] };
    const members = t.memberTypes.map((mt, i) =>
      sizer(duckdb.struct_vector_get_child(vector, i + 1), mt, count),
    );
    return {
      size(row, budget) {
        let n = 0;
        for (const m of members) {
          n = Math.max(n, m.size(row, budget));
          if (n > budget) break;
        }
        return n;
      },
    };
  }
  return fixed(WIDE_TYPES.has(id) ? 48 : 24);
}

function structSizer(vector: duckdb.Vector, fields: [string, DuckDBType][], count: number): Sizer {
  const children = fields.map(([name, t], i) => ({
    key: name.length + 4,
    sizer: sizer(duckdb.struct_vector_get_child(vector, i), t, count),
  }));
  if (children.every((c) => c.sizer.fixed !== undefined))
    return fixed(children.reduce((a, c) => a + c.key + c.sizer.fixed!, 2));
  return {
    size(row, budget) {
      let n = 2;
      for (const c of children) {
        n += c.key + c.sizer.size(row, budget - n);
        if (n > budget) break;
      }
      return n;
    },
  };
}

/** Items offset..offset+length of a child, with their separators, counted until past `budget`. */
function itemsSize(child: Sizer, offset: number, length: number, budget: number): number {
  if (child.fixed !== undefined) return length * (child.fixed + 1);
  let n = 0;
  for (let i = offset; i < offset + length && n <= budget; i++) n += child.size(i, budget - n) + 1;
  return n;
}

function validity(vector: duckdb.Vector, count: number): (row: number) => boolean {
  const words = Math.ceil(count / 64);
  const bytes = duckdb.vector_get_validity(vector, words * 8);
  if (!bytes) return () => true;
  return (row) => (bytes[row >> 3] & (1 << (row & 7))) !== 0;
}

/**
 * Per-row size estimator of a result chunk: `rowSize(i, budget)` is row i's estimated JSON bytes, or some
 * number above `budget` once it is known to exceed it.
 */
export function chunkRowSizes(
  chunk: DuckDBDataChunk,
  types: readonly DuckDBType[],
): (row: number, budget: number) => number {
  const count = chunk.rowCount;
  const columns = types.map((t, i) => sizer(duckdb.data_chunk_get_vector(chunk.chunk, i), t, count));
  return (row, budget) => {
    let n = 2;
    for (const c of columns) {
      n += c.size(row, budget - n) + 1;
      if (n > budget) break;
    }
    return n;
  };
}
