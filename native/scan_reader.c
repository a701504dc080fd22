/*
 * filterdb native scan reader (Node-API addon, optional): streams rows of the `filters` table out of DuckDB's
 * C API straight into the caller's typed arrays (the WebAssembly kernels' block columns).
 *
 * Why: through @duckdb/node-bindings every 2048-row vector is copied into a fresh Node buffer and every query
 * result is materialized first (batch-read.ts); reading cost ~85 ns a row against ~22 ns for DuckDB's own
 * scan. Here a chunk's column data is memcpy'd into the block and nothing else is allocated per chunk.
 *
 * It does no arithmetic: the passes' kernels stay the WebAssembly ones, so results are the same bits whichever
 * reader fed them. libduckdb.so is the one shipped with @duckdb/node-bindings (linked by binding.gyp); the
 * few C API declarations used are below (DuckDB 1.x C API, stable ABI).
 *
 * Exports (all synchronous, on the calling thread):
 *   open(path, threads, extraMB) -> db         read-only instance; memory limit = in use after open + extraMB
 *   query(db, sql) -> scan                    a streaming query; its columns are 4-byte types (INTEGER/FLOAT)
 *   fill(scan, dests, fill, cap, selected) -> new fill
 *       copies the next rows into dests[c][fill…] until fill == cap or the result ends (then scan is done);
 *       selected (Uint8Array or null): keep only rows whose column 0 (layer_id) indexes a 1 in it
 *   seen(scan) -> rows read so far (selected or not);  done(scan) -> bool
 *   closeScan(scan);  close(db)
 */
#include <node_api.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- DuckDB C API (subset) ---- */
typedef uint64_t idx_t;
typedef int duckdb_state; /* DuckDBSuccess = 0 */
typedef void *duckdb_database;
typedef void *duckdb_connection;
typedef void *duckdb_config;
typedef void *duckdb_prepared_statement;
typedef void *duckdb_pending_result;
typedef void *duckdb_data_chunk;
typedef void *duckdb_vector;
typedef struct {
  idx_t deprecated_column_count;
  idx_t deprecated_row_count;
  idx_t deprecated_rows_changed;
  void *deprecated_columns;
  char *deprecated_error_message;
  void *internal_data;
} duckdb_result;

extern duckdb_state duckdb_create_config(duckdb_config *out);
extern duckdb_state duckdb_set_config(duckdb_config config, const char *name, const char *option);
extern void duckdb_destroy_config(duckdb_config *config);
extern duckdb_state duckdb_open_ext(const char *path, duckdb_database *out, duckdb_config config, char **err);
extern void duckdb_free(void *ptr);
extern void duckdb_close(duckdb_database *db);
extern duckdb_state duckdb_connect(duckdb_database db, duckdb_connection *out);
extern void duckdb_disconnect(duckdb_connection *con);
extern duckdb_state duckdb_query(duckdb_connection con, const char *sql, duckdb_result *out);
extern void duckdb_destroy_result(duckdb_result *result);
extern const char *duckdb_result_error(duckdb_result *result);
extern idx_t duckdb_column_count(duckdb_result *result);
extern double duckdb_value_double(duckdb_result *result, idx_t col, idx_t row);
extern duckdb_state duckdb_prepare(duckdb_connection con, const char *sql, duckdb_prepared_statement *out);
extern const char *duckdb_prepare_error(duckdb_prepared_statement prepared);
extern void duckdb_destroy_prepare(duckdb_prepared_statement *prepared);
extern duckdb_state duckdb_pending_prepared_streaming(duckdb_prepared_statement prepared, duckdb_pending_result *out);
extern const char *duckdb_pending_error(duckdb_pending_result pending);
extern void duckdb_destroy_pending(duckdb_pending_result *pending);
extern duckdb_state duckdb_execute_pending(duckdb_pending_result pending, duckdb_result *out);
extern duckdb_data_chunk duckdb_fetch_chunk(duckdb_result result);
extern idx_t duckdb_data_chunk_get_size(duckdb_data_chunk chunk);
extern idx_t duckdb_data_chunk_get_column_count(duckdb_data_chunk chunk);
extern duckdb_vector duckdb_data_chunk_get_vector(duckdb_data_chunk chunk, idx_t col);
extern void *duckdb_vector_get_data(duckdb_vector vector);
extern uint64_t *duckdb_vector_get_validity(duckdb_vector vector);
extern void duckdb_destroy_data_chunk(duckdb_data_chunk *chunk);

/* ---- handles ---- */
#define MAX_COLS 16

#define DB_MAGIC 0x66646264u   /* tags the externals: a scan handle passed as a database is refused */
#define SCAN_MAGIC 0x66647363u

typedef struct {
  uint32_t magic;
  duckdb_database db;
  duckdb_connection con;
  int open;
} Db;

typedef struct {
  uint32_t magic;
  duckdb_result result;
  int has_result;
  int done;
  idx_t cols;
  duckdb_data_chunk chunk;
  idx_t chunk_size;
  idx_t pos;
  const uint8_t *data[MAX_COLS];
  const uint64_t *validity[MAX_COLS];
  double seen;
} Scan;

static napi_value throw_error(napi_env env, const char *what, const char *detail) {
  char msg[1024];
  snprintf(msg, sizeof msg, "%s%s%s", what, detail ? ": " : "", detail ? detail : "");
  napi_throw_error(env, NULL, msg);
  return NULL;
}

#define CHECK(call)                                                                                    \
  do {                                                                                                 \
    if ((call) != napi_ok) return throw_error(env, "native scan reader: bad arguments", #call);       \
  } while (0)

static void db_release(Db *d) {
  if (!d->open) return;
  duckdb_disconnect(&d->con);
  duckdb_close(&d->db);
  d->open = 0;
}

static void db_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  db_release((Db *)data);
  free(data);
}

static void scan_release(Scan *s) {
  if (s->chunk) duckdb_destroy_data_chunk(&s->chunk);
  s->chunk = NULL;
  if (s->has_result) duckdb_destroy_result(&s->result);
  s->has_result = 0;
  s->done = 1;
}

static void scan_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  scan_release((Scan *)data);
  free(data);
}

static int get_string(napi_env env, napi_value v, char **out) {
  size_t len = 0;
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) return 0;
  *out = malloc(len + 1);
  if (!*out) return 0;
  if (napi_get_value_string_utf8(env, v, *out, len + 1, &len) != napi_ok) {
    free(*out);
    return 0;
  }
  return 1;
}

/* open(path, threads, extraMB) */
static napi_value js_open(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 3) return throw_error(env, "native scan reader: open(path, threads, extraMB)", NULL);
  char *path = NULL;
  if (!get_string(env, argv[0], &path)) return throw_error(env, "native scan reader: path must be a string", NULL);
  int32_t threads = 0;
  double extra = 16;
  CHECK(napi_get_value_int32(env, argv[1], &threads));
  CHECK(napi_get_value_double(env, argv[2], &extra));

  Db *d = calloc(1, sizeof(Db));
  if (d) d->magic = DB_MAGIC;
  duckdb_config cfg = NULL;
  char *err = NULL;
  char buf[64];
  if (!d || duckdb_create_config(&cfg) != 0) {
    free(path);
    free(d);
    return throw_error(env, "cannot create a DuckDB configuration", NULL);
  }
  duckdb_set_config(cfg, "access_mode", "READ_ONLY");
  if (threads > 0) {
    snprintf(buf, sizeof buf, "%d", threads);
    duckdb_set_config(cfg, "threads", buf);
  }
  duckdb_state st = duckdb_open_ext(path, &d->db, cfg, &err);
  duckdb_destroy_config(&cfg);
  free(path);
  if (st != 0) {
    napi_value r = throw_error(env, err ? err : "cannot open the database", NULL);
    if (err) duckdb_free(err);
    free(d);
    return r;
  }
  if (duckdb_connect(d->db, &d->con) != 0) {
    duckdb_close(&d->db);
    free(d);
    return throw_error(env, "cannot connect to the database", NULL);
  }
  d->open = 1;
  /* memory limit: what opening took (a replayed write-ahead log) + extraMB, as openScanDb does */
  duckdb_result res;
  if (duckdb_query(d->con,
                   "SELECT CAST(coalesce(sum(memory_usage_bytes), 0) AS DOUBLE) FROM duckdb_memory()",
                   &res) != 0) {
    napi_value r = throw_error(env, duckdb_result_error(&res), NULL);
    duckdb_destroy_result(&res);
    db_release(d);
    free(d);
    return r;
  }
  double used = duckdb_value_double(&res, 0, 0);
  duckdb_destroy_result(&res);
  char sql[96];
  snprintf(sql, sizeof sql, "SET memory_limit = '%.0fMB'", used / 1048576.0 + 1 + extra);
  if (duckdb_query(d->con, sql, &res) != 0) {
    napi_value r = throw_error(env, duckdb_result_error(&res), NULL);
    duckdb_destroy_result(&res);
    db_release(d);
    free(d);
    return r;
  }
  duckdb_destroy_result(&res);
  napi_value out;
  if (napi_create_external(env, d, db_finalize, NULL, &out) != napi_ok) {
    db_release(d);
    free(d);
    return throw_error(env, "native scan reader: cannot wrap the database", NULL);
  }
  return out;
}

static void *get_external(napi_env env, napi_value v, uint32_t magic) {
  void *p = NULL;
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_external) return NULL;
  if (napi_get_value_external(env, v, &p) != napi_ok || !p) return NULL;
  return *(uint32_t *)p == magic ? p : NULL;
}

static Db *get_db(napi_env env, napi_value v) { return (Db *)get_external(env, v, DB_MAGIC); }

static Scan *get_scan(napi_env env, napi_value v) { return (Scan *)get_external(env, v, SCAN_MAGIC); }

/* query(db, sql) */
static napi_value js_query(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  Db *d = argc >= 2 ? get_db(env, argv[0]) : NULL;
  if (!d || !d->open) return throw_error(env, "native scan reader: the database is closed", NULL);
  char *sql = NULL;
  if (!get_string(env, argv[1], &sql)) return throw_error(env, "native scan reader: sql must be a string", NULL);
  duckdb_prepared_statement prep = NULL;
  if (duckdb_prepare(d->con, sql, &prep) != 0) {
    free(sql);
    napi_value r = throw_error(env, duckdb_prepare_error(prep), NULL);
    duckdb_destroy_prepare(&prep);
    return r;
  }
  free(sql);
  duckdb_pending_result pending = NULL;
  if (duckdb_pending_prepared_streaming(prep, &pending) != 0) {
    napi_value r = throw_error(env, pending ? duckdb_pending_error(pending) : "cannot start the query", NULL);
    duckdb_destroy_pending(&pending);
    duckdb_destroy_prepare(&prep);
    return r;
  }
  Scan *s = calloc(1, sizeof(Scan));
  if (s) s->magic = SCAN_MAGIC;
  if (!s) {
    duckdb_destroy_pending(&pending);
    duckdb_destroy_prepare(&prep);
    return throw_error(env, "native scan reader: out of memory", NULL);
  }
  duckdb_state st = duckdb_execute_pending(pending, &s->result);
  s->has_result = 1;
  if (st != 0) {
    /* an error raised while the query started (e.g. a block it could not pin) is the pending result's;
       the result's own message only says that the pending result had failed */
    const char *e = duckdb_pending_error(pending);
    napi_value r = throw_error(env, e && *e ? e : duckdb_result_error(&s->result), NULL);
    duckdb_destroy_pending(&pending);
    duckdb_destroy_prepare(&prep);
    scan_release(s);
    free(s);
    return r;
  }
  duckdb_destroy_pending(&pending);
  duckdb_destroy_prepare(&prep);
  s->cols = duckdb_column_count(&s->result);
  if (s->cols == 0 || s->cols > MAX_COLS) {
    scan_release(s);
    free(s);
    return throw_error(env, "native scan reader: the query must return 1 to 16 columns", NULL);
  }
  napi_value out;
  if (napi_create_external(env, s, scan_finalize, NULL, &out) != napi_ok) {
    scan_release(s);
    free(s);
    return throw_error(env, "native scan reader: cannot wrap the scan", NULL);
  }
  return out;
}

/* Fetches the next non-empty chunk; returns 0 at the end, -1 on error (message in *err). */
static int next_chunk(Scan *s, const char **err) {
  for (;;) {
    if (s->chunk) duckdb_destroy_data_chunk(&s->chunk);
    s->chunk = duckdb_fetch_chunk(s->result);
    if (!s->chunk) {
      const char *e = duckdb_result_error(&s->result);
      if (e && *e) {
        *err = e;
        return -1;
      }
      return 0;
    }
    s->chunk_size = duckdb_data_chunk_get_size(s->chunk);
    s->pos = 0;
    if (s->chunk_size == 0) continue;
    if (duckdb_data_chunk_get_column_count(s->chunk) != s->cols) {
      *err = "chunk column count changed";
      return -1;
    }
    for (idx_t c = 0; c < s->cols; c++) {
      duckdb_vector v = duckdb_data_chunk_get_vector(s->chunk, c);
      s->data[c] = (const uint8_t *)duckdb_vector_get_data(v);
      s->validity[c] = duckdb_vector_get_validity(v);
    }
    return 1;
  }
}

static int valid(const uint64_t *mask, idx_t row) {
  return !mask || (mask[row >> 6] >> (row & 63)) & 1;
}

/* fill(scan, dests, fill, cap, selected) */
static napi_value js_fill(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  Scan *s = argc >= 5 ? get_scan(env, argv[0]) : NULL;
  if (!s) return throw_error(env, "native scan reader: fill(scan, dests, fill, cap, selected)", NULL);
  uint32_t ndest = 0;
  CHECK(napi_get_array_length(env, argv[1], &ndest));
  if (ndest != s->cols) return throw_error(env, "native scan reader: one destination per column", NULL);
  int32_t fill = 0, cap = 0;
  CHECK(napi_get_value_int32(env, argv[2], &fill));
  CHECK(napi_get_value_int32(env, argv[3], &cap));
  uint8_t *dest[MAX_COLS];
  for (uint32_t c = 0; c < ndest; c++) {
    napi_value el;
    napi_typedarray_type type;
    size_t length = 0, offset = 0;
    void *data = NULL;
    napi_value ab;
    CHECK(napi_get_element(env, argv[1], c, &el));
    if (napi_get_typedarray_info(env, el, &type, &length, &data, &ab, &offset) != napi_ok ||
        (type != napi_float32_array && type != napi_int32_array && type != napi_uint32_array))
      return throw_error(env, "native scan reader: destinations must be 4-byte typed arrays", NULL);
    if (fill < 0 || cap < fill || (size_t)cap > length)
      return throw_error(env, "native scan reader: fill/cap outside a destination", NULL);
    dest[c] = (uint8_t *)data;
  }
  const uint8_t *sel = NULL;
  size_t sel_len = 0;
  napi_valuetype st;
  CHECK(napi_typeof(env, argv[4], &st));
  if (st != napi_null && st != napi_undefined) {
    napi_typedarray_type type;
    void *data = NULL;
    napi_value ab;
    size_t offset = 0;
    if (napi_get_typedarray_info(env, argv[4], &type, &sel_len, &data, &ab, &offset) != napi_ok ||
        type != napi_uint8_array)
      return throw_error(env, "native scan reader: selected must be a Uint8Array or null", NULL);
    sel = (const uint8_t *)data;
  }
  const char *err = NULL;
  while (!s->done && fill < cap) {
    if (!s->chunk || s->pos >= s->chunk_size) {
      int r = next_chunk(s, &err);
      if (r < 0) {
        napi_value e = throw_error(env, err, NULL);
        scan_release(s);
        return e;
      }
      if (r == 0) {
        scan_release(s);
        break;
      }
    }
    idx_t from = s->pos;
    idx_t take = s->chunk_size - from;
    if (!sel) {
      if (take > (idx_t)(cap - fill)) take = (idx_t)(cap - fill);
      for (idx_t c = 0; c < s->cols; c++) {
        if (s->validity[c])
          for (idx_t r = from; r < from + take; r++)
            if (!valid(s->validity[c], r)) return throw_error(env, "a filter row holds NULL", NULL);
        memcpy(dest[c] + (size_t)fill * 4, s->data[c] + from * 4, take * 4);
      }
      fill += (int32_t)take;
      s->pos += take;
      s->seen += (double)take;
    } else {
      const int32_t *layer = (const int32_t *)s->data[0];
      idx_t r = from;
      for (; r < s->chunk_size && fill < cap; r++) {
        int32_t lid = layer[r];
        if (!valid(s->validity[0], r) || lid < 0 || (size_t)lid >= sel_len || sel[lid] != 1) continue;
        for (idx_t c = 0; c < s->cols; c++) {
          if (!valid(s->validity[c], r)) return throw_error(env, "a filter row holds NULL", NULL);
          memcpy(dest[c] + (size_t)fill * 4, s->data[c] + r * 4, 4);
        }
        fill++;
      }
      s->seen += (double)(r - from);
      s->pos = r;
    }
  }
  napi_value out;
  CHECK(napi_create_int32(env, fill, &out));
  return out;
}

/* The single argument of seen/done/closeScan/close (NULL when missing). */
static napi_value single_arg(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1] = {NULL};
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1) return NULL;
  return argv[0];
}

static napi_value js_seen(napi_env env, napi_callback_info info) {
  napi_value a = single_arg(env, info);
  Scan *s = a ? get_scan(env, a) : NULL;
  napi_value out;
  if (!s || napi_create_double(env, s->seen, &out) != napi_ok)
    return throw_error(env, "native scan reader: seen(scan)", NULL);
  return out;
}

static napi_value js_done(napi_env env, napi_callback_info info) {
  napi_value a = single_arg(env, info);
  Scan *s = a ? get_scan(env, a) : NULL;
  napi_value out;
  if (!s || napi_get_boolean(env, s->done, &out) != napi_ok)
    return throw_error(env, "native scan reader: done(scan)", NULL);
  return out;
}

static napi_value js_close_scan(napi_env env, napi_callback_info info) {
  napi_value a = single_arg(env, info);
  Scan *s = a ? get_scan(env, a) : NULL;
  if (s) scan_release(s);
  return NULL;
}

static napi_value js_close(napi_env env, napi_callback_info info) {
  napi_value a = single_arg(env, info);
  Db *d = a ? get_db(env, a) : NULL;
  if (d) db_release(d);
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"open", NULL, js_open, NULL, NULL, NULL, napi_enumerable, NULL},
      {"query", NULL, js_query, NULL, NULL, NULL, napi_enumerable, NULL},
      {"fill", NULL, js_fill, NULL, NULL, NULL, napi_enumerable, NULL},
      {"seen", NULL, js_seen, NULL, NULL, NULL, napi_enumerable, NULL},
      {"done", NULL, js_done, NULL, NULL, NULL, napi_enumerable, NULL},
      {"closeScan", NULL, js_close_scan, NULL, NULL, NULL, napi_enumerable, NULL},
      {"close", NULL, js_close, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok) return NULL;
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
