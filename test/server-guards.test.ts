/**
 * The server against a hostile network (issue #17, items 10–12): deadlines on headers, bodies and work,
 * DuckDB interrupted when a client leaves, writes that need an Origin or the token, SQL that may not read the
 * database's own files, capped SQL answers, bounded uploads, and hostile uploads analysed off the event loop.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { zipSync } from 'fflate';
import { storeShift } from '../src/scan/analyses.js';
import { planSelection } from '../src/scan/selection.js';
import { dataPath } from './support/paths.js';
import { type FixtureServer, fixtureServer } from './support/web-server.js';

// biome-ignore lint/suspicious/noExplicitAny: JSON answers, checked field by field
type Json = any;

async function call(
  srv: FixtureServer,
  path: string,
  init: RequestInit & { token?: boolean } = {},
): Promise<{ status: number; body: Json }> {
  const headers = new Headers(init.headers);
  if (init.token !== false && (init.method ?? 'GET') !== 'GET' && !headers.has('origin'))
    headers.set('authorization', `Bearer ${srv.token}`);
  const res = await fetch(new URL(path, srv.url), { ...init, headers });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

function sql(srv: FixtureServer, query: string) {
  return call(srv, '/api/sql', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ sql: query }),
  });
}

function expectError(r: { status: number; body: Json }, status: number, code: string, pattern?: RegExp) {
  assert.equal(r.status, status, JSON.stringify(r.body));
  assert.equal(r.body?.error?.code, code, JSON.stringify(r.body));
  if (pattern) assert.match(r.body.error.message, pattern);
}

/** Milliseconds a GET /api/info takes. */
async function infoLatency(srv: FixtureServer): Promise<number> {
  const t0 = performance.now();
  const r = await call(srv, '/api/info');
  assert.equal(r.status, 200);
  return performance.now() - t0;
}

/** A raw socket that sends `head` and then one more byte every `everyMs`; resolves with what came back. */
function trickle(srv: FixtureServer, head: string, drip: string, everyMs: number) {
  const url = new URL(srv.url);
  const socket: Socket = connect(Number(url.port), url.hostname);
  const t0 = performance.now();
  let answer = '';
  socket.setEncoding('utf8');
  socket.on('data', (c: string) => {
    answer += c;
  });
  socket.on('error', () => {});
  socket.write(head);
  let i = 0;
  const timer = setInterval(() => {
    if (!socket.destroyed) socket.write(drip[i++ % drip.length]);
  }, everyMs);
  const closed = new Promise<{ ms: number; answer: string }>((resolve) =>
    socket.on('close', () => {
      clearInterval(timer);
      resolve({ ms: performance.now() - t0, answer });
    }),
  );
  return { closed, destroy: () => socket.destroy() };
}

/** A PyTorch zip whose pickle is `x = []; for _ in range(levels): x = [x, x]` ("billion laughs"). */
function sharedReferencePickle(levels: number): Uint8Array<ArrayBuffer> {
  const b = [0x80, 0x02, 0x7d, 0x58, 1, 0, 0, 0, 0x78, 0x5d, 0x71, 0, 0x30]; // {} 'x' [] memo0
  for (let i = 0; i < levels; i++) b.push(0x28, 0x68, i, 0x68, i, 0x6c, 0x71, i + 1, 0x30);
  b.push(0x68, levels, 0x73, 0x2e);
  return zipSync(
    { 'archive/data.pkl': Uint8Array.from(b), 'archive/version': new TextEncoder().encode('3\n') },
    { level: 0 },
  ) as Uint8Array<ArrayBuffer>;
}

/** A 3-table cross join on the filters: minutes of work for DuckDB on the fixture database. */
const CROSS_JOIN = '(SELECT count(*) FROM filters a, filters b, filters c WHERE a.w0 + b.w1 > c.w2) > 0';

describe('server guards: writes need a same-origin Origin or the token', () => {
  let srv: FixtureServer;
  before(async () => {
    srv = await fixtureServer({ token: 'test-token-123' });
  });
  after(() => srv?.stop());

  it('a write with neither is refused; either one is accepted; reads need neither', async () => {
    const body = JSON.stringify({ sql: 'SELECT 1 AS x' });
    const post = (headers: Record<string, string>) =>
      call(srv, '/api/sql', { method: 'POST', headers, body, token: false });
    expectError(await post({}), 403, 'cross-origin', /no Origin header/);
    expectError(await post({ authorization: 'Bearer wrong' }), 403, 'bad-token');
    expectError(await post({ origin: 'null' }), 403, 'cross-origin');
    expectError(await post({ origin: 'http://evil.example' }), 403, 'cross-origin');
    assert.equal((await post({ origin: new URL(srv.url).origin })).status, 200);
    assert.equal((await post({ authorization: 'Bearer test-token-123' })).status, 200);
    const upload = await call(srv, '/api/models?name=x.onnx', { method: 'POST', body: 'x', token: false });
    expectError(upload, 403, 'cross-origin');
    const get = await call(srv, `/api/sql?q=${encodeURIComponent('SELECT 1 AS x')}`);
    assert.equal(get.status, 200);
  });
});

describe('server guards: SQL', () => {
  let srv: FixtureServer;
  before(async () => {
    srv = await fixtureServer({ maxSqlBytes: 1 << 20 });
    // a WAL beside the database, as a server that wrote has
    const r = await call(srv, '/api/models?name=digits_cnn.pt', {
      method: 'POST',
      body: readFileSync(dataPath('digits_cnn.pt')),
    });
    assert.equal(r.status, 201, JSON.stringify(r.body));
  });
  after(() => srv?.stop());

  it('may not read the database file, its WAL or temp files, by any file function', async () => {
    const db = srv.dbPath;
    assert.ok(existsSync(`${db}.wal`), 'the server should have a WAL for this test');
    for (const q of [
      `SELECT content FROM read_blob('${db}')`,
      `SELECT content FROM read_blob('${db}.wal')`,
      `SELECT * FROM read_text('${db}.wal')`,
      `SELECT * FROM read_csv('${db}', header = false)`,
      `SELECT * FROM read_blob('${db}.tmp/*')`,
      `SELECT * FROM '${db}.wal'`,
      `SELECT * FROM query('SELECT * FROM read_blob(''${db}'')')`,
      `SELECT (SELECT size FROM read_blob('${db}')) AS n`,
      `SELECT * FROM models WHERE name IN (SELECT filename FROM glob('${srv.dir}/*'))`,
      `WITH x AS (SELECT * FROM parquet_scan('${db}')) SELECT * FROM x`,
    ]) {
      const r = await sql(srv, q);
      expectError(r, 403, 'file-access', /disabled/);
      assert.ok(!JSON.stringify(r.body).includes('DUCK'), q);
    }
    // the same guard holds for compare conditions
    const cmp = await call(srv, '/api/compare', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ by: 'model', where: `(SELECT count(*) FROM read_blob('${db}')) > 0` }),
    });
    expectError(cmp, 403, 'file-access');
    // generators and the catalog still work
    const ok = await sql(
      srv,
      "SELECT (SELECT count(*) FROM range(5)) AS r, (SELECT count(*) FROM duckdb_tables() WHERE table_name = 'models') AS t, (SELECT count(*) FROM information_schema.columns WHERE table_name = 'layer_info') > 0 AS c",
    );
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.deepEqual(ok.body.rows, [[5, 1, true]]);
  });

  it('caps the rows and the bytes of an answer and says which cap stopped it', async () => {
    const rows = await sql(srv, 'SELECT * FROM range(100000)');
    assert.equal(rows.status, 200);
    assert.equal(rows.body.rowCount, 10_000);
    assert.equal(rows.body.truncated, true);
    assert.equal(rows.body.truncatedBy, 'rows');
    const wide = await sql(srv, "SELECT i, repeat('x', 100000) AS s FROM range(100) t(i)");
    assert.equal(wide.status, 200);
    assert.equal(wide.body.truncatedBy, 'bytes');
    assert.ok(
      wide.body.rowCount >= 9 && wide.body.rowCount <= 10,
      `${wide.body.rowCount} rows of 100 kB in 1 MiB`,
    );
    assert.ok(wide.body.bytes <= 1 << 20);
    // one huge cell: nothing of it is converted, the answer says why it is empty
    const huge = await sql(srv, 'SELECT range(0, 3000000) AS r');
    assert.equal(huge.status, 200);
    assert.deepEqual([huge.body.rowCount, huge.body.truncatedBy], [0, 'bytes']);
    const nested = await sql(srv, "SELECT [{'a': repeat('y', 600000)}, {'a': repeat('y', 600000)}] AS l");
    assert.deepEqual([nested.body.rowCount, nested.body.truncatedBy], [0, 'bytes']);
    const small = await sql(srv, "SELECT [1, 2] AS l, {'k': 'v'} AS s, NULL::VARCHAR AS n");
    assert.deepEqual(small.body.rows, [[[1, 2], { k: 'v' }, null]]);
    assert.equal(small.body.truncated, false);
  });
});

describe('server guards: deadlines', () => {
  let srv: FixtureServer;
  before(async () => {
    srv = await fixtureServer({
      headersTimeoutMs: 1000,
      bodyPace: { idleMs: 1000, graceMs: 1000, minBytesPerSecond: 1000 },
      timeoutMs: 1500,
    });
  });
  after(() => srv?.stop());

  it('cuts off slow-loris connections (headers, then body) within the deadline, with the error JSON', async () => {
    const host = `Host: ${new URL(srv.url).host}\r\n`;
    const clients = Array.from({ length: 20 }, () =>
      trickle(srv, `GET /api/info HTTP/1.1\r\n${host}`, 'X-a: b\r\n', 300),
    );
    // meanwhile the server answers others
    assert.ok((await infoLatency(srv)) < 1000);
    const results = await Promise.all(clients.map((c) => c.closed));
    for (const r of results) {
      assert.ok(r.ms < 3500, `held ${r.ms.toFixed(0)} ms`);
      assert.match(r.answer, /^HTTP\/1\.1 408/);
      assert.equal(JSON.parse(r.answer.slice(r.answer.indexOf('\r\n\r\n') + 4)).error.code, 'timeout');
    }
    const body = trickle(
      srv,
      `POST /api/sql HTTP/1.1\r\n${host}Authorization: Bearer ${srv.token}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n`,
      ' ',
      300,
    );
    const r = await body.closed;
    assert.ok(r.ms < 3500, `body held ${r.ms.toFixed(0)} ms`);
    assert.match(r.answer, /^HTTP\/1\.1 408/);
    assert.match(r.answer, /"code":"timeout".*too slowly/);
  });

  it('answers 503 when the work passes its deadline, and DuckDB stops', async () => {
    const t0 = performance.now();
    const pending = call(srv, '/api/compare', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ by: 'model', where: CROSS_JOIN }),
    });
    await new Promise((r) => setTimeout(r, 300));
    const busy = await cpuRate(800);
    const r = await pending;
    expectError(r, 503, 'timeout', /1\.5 s/);
    assert.ok(performance.now() - t0 < 4000);
    await assertStopped(busy, 'compare past its deadline');
  });
});

/** CPU seconds per second this process (DuckDB's threads included) uses over the next `ms`. */
async function cpuRate(ms: number): Promise<number> {
  const before = process.cpuUsage();
  await new Promise((r) => setTimeout(r, ms));
  const used = process.cpuUsage(before);
  return (used.user + used.system) / 1e6 / (ms / 1000);
}

/**
 * After a cancelled request, this process uses less than half the CPU it used while the query ran (the
 * machine may be shared, so rates are compared, not absolute times): the query stopped.
 */
async function assertStopped(busyRate: number, what: string): Promise<void> {
  await new Promise((r) => setTimeout(r, 300));
  const idleRate = await cpuRate(1500);
  assert.ok(
    idleRate < busyRate / 2,
    `${what}: ${idleRate.toFixed(2)} CPU s/s after the request ended vs ${busyRate.toFixed(2)} while it ran: the query still runs`,
  );
}

describe('server guards: a client that leaves', () => {
  let srv: FixtureServer;
  before(async () => {
    srv = await fixtureServer();
  });
  after(() => srv?.stop());

  it('interrupts its cross-join compare and its SQL', async () => {
    for (const [path, body] of [
      ['/api/compare', { by: 'model', where: CROSS_JOIN }],
      ['/api/sql', { sql: `SELECT ${CROSS_JOIN} AS busy` }],
    ] as const) {
      const controller = new AbortController();
      const pending = call(srv, path, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal: controller.signal,
      }).catch((e: Error) => e);
      await new Promise((r) => setTimeout(r, 300));
      const busy = await cpuRate(1000);
      controller.abort();
      assert.ok((await pending) instanceof Error);
      await assertStopped(busy, path);
      assert.ok((await infoLatency(srv)) < 1000);
    }
  });
});

describe('server guards: scans stop on the request signal', () => {
  let srv: FixtureServer;
  before(async () => {
    srv = await fixtureServer();
  });
  after(() => srv?.stop());

  it('a compare scan rejects with the abort reason, before it starts and while workers run', async () => {
    const con = await srv.db!.instance.connect();
    const plan = await planSelection(con, { by: 'model' });
    con.closeSync();
    const reason = new Error('client gone');
    for (const workers of [0, 2]) {
      await assert.rejects(
        storeShift(srv.dbPath, plan, { workers, signal: AbortSignal.abort(reason) }),
        (e) => e === reason,
      );
    }
    for (let i = 0; i < 3; i++) {
      const controller = new AbortController();
      const running = storeShift(srv.dbPath, plan, { workers: 2, signal: controller.signal });
      setImmediate(() => controller.abort(reason));
      await assert.rejects(running, (e) => e === reason);
    }
    // and without an abort the same scan completes
    assert.equal((await storeShift(srv.dbPath, plan, { workers: 2 })).filterCount, plan.filterCount);
  });
});

describe('server guards: uploads', () => {
  let srv: FixtureServer;
  let uploadDir: string;
  let dead: number;
  before(async () => {
    uploadDir = mkdtempSync(join(tmpdir(), 'filterdb-guards-'));
    // a PID that has ended: its upload folder is an orphan
    dead = spawnSync(process.execPath, ['-e', '0']).pid ?? 0;
    for (const name of [
      `filterdb-upload-${dead}-abc`,
      'filterdb-upload-Xy12Zq', // named before PIDs were part of the name
      `filterdb-upload-${process.pid}-live`,
      'unrelated',
    ])
      mkdirSync(join(uploadDir, name));
    const old = new Date(Date.now() - 2 * 86400_000);
    mkdirSync(join(uploadDir, `filterdb-upload-${process.pid}-old`));
    utimesSync(join(uploadDir, `filterdb-upload-${process.pid}-old`), old, old);
    utimesSync(join(uploadDir, 'filterdb-upload-Xy12Zq'), old, old);
    mkdirSync(join(uploadDir, 'filterdb-upload-Fresh1')); // an older server's, maybe still in use
    srv = await fixtureServer({
      uploadDir,
      maxUpload: 1 << 20,
      maxUploadInFlight: (3 << 20) / 2,
      analysisTimeoutMs: 3000,
    });
  });
  after(async () => {
    await srv?.stop();
    rmSync(uploadDir, { recursive: true, force: true });
  });

  it('removes stale upload folders at start, keeps live, recent and unrelated ones', () => {
    assert.ok(!existsSync(join(uploadDir, `filterdb-upload-${dead}-abc`)));
    assert.ok(!existsSync(join(uploadDir, 'filterdb-upload-Xy12Zq')));
    assert.ok(!existsSync(join(uploadDir, `filterdb-upload-${process.pid}-old`)));
    assert.ok(existsSync(join(uploadDir, `filterdb-upload-${process.pid}-live`)));
    assert.ok(existsSync(join(uploadDir, 'unrelated')));
    assert.ok(existsSync(join(uploadDir, 'filterdb-upload-Fresh1')));
  });

  it('names the stored model in a duplicate upload, never a path on the server', async () => {
    const r = await call(srv, '/api/models?name=again.onnx', {
      method: 'POST',
      body: readFileSync(dataPath('digits_dwsep.onnx')),
    });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.status, 'duplicate');
    assert.equal(r.body.duplicateOf, 'digits_dwsep');
    assert.match(r.body.message, /same bytes as model digits_dwsep, id 1/);
    assert.ok(!JSON.stringify(r.body).includes('/'), JSON.stringify(r.body));
  });

  it('refuses an upload when the uploads in flight hold the server-wide limit (503 busy)', async () => {
    const url = new URL(srv.url);
    const held = trickle(
      srv,
      `POST /api/models?name=slow.onnx HTTP/1.1\r\nHost: ${url.host}\r\nAuthorization: Bearer ${srv.token}\r\nContent-Length: 1000000\r\n\r\nxxxx`,
      'x',
      200,
    );
    await new Promise((r) => setTimeout(r, 300));
    const second = await call(srv, '/api/models?name=second.onnx', {
      method: 'POST',
      body: new Uint8Array(1_000_000),
    });
    expectError(second, 503, 'busy', /hold 976\.6 KiB of the server's 1\.5 MiB/);
    held.destroy();
    await held.closed;
    await new Promise((r) => setTimeout(r, 100));
    const third = await call(srv, '/api/models?name=third.onnx', {
      method: 'POST',
      body: new Uint8Array(1_000_000),
    });
    expectError(third, 422, 'not-a-model');
    assert.ok(
      !readdirSync(uploadDir).some(
        (n) => n.startsWith(`filterdb-upload-${process.pid}-`) && n !== `filterdb-upload-${process.pid}-live`,
      ),
    );
  });

  it('analyses a hostile upload in a worker: /api/info answers meanwhile, the deadline stops it', async () => {
    const upload = call(srv, '/api/models?name=dag60.pt', {
      method: 'POST',
      body: sharedReferencePickle(60),
    });
    const latencies: number[] = [];
    const t0 = performance.now();
    while (performance.now() - t0 < 2000) latencies.push(await infoLatency(srv));
    const r = await upload;
    assert.equal(r.status, 422, JSON.stringify(r.body));
    assert.ok(['corrupt', 'not-a-model', 'too-large'].includes(r.body.error.code), JSON.stringify(r.body));
    assert.ok(Math.max(...latencies) < 1000, `slowest /api/info ${Math.max(...latencies).toFixed(0)} ms`);
    // the models stored are as before, and the server still ingests
    const list = await call(srv, '/api/models');
    assert.equal(list.body.models.length, 2);
  });

  it('a bundle is unpacked from disk into its folder; a bundle that leaves it is refused', async () => {
    const onnx = readFileSync(dataPath('digits_cnn.onnx'));
    const ok = await call(srv, '/api/models?name=m/net.onnx&bundle=1', {
      method: 'POST',
      body: zipSync({ 'net.onnx': onnx, 'readme.txt': new TextEncoder().encode('hi') }),
    });
    assert.equal(ok.status, 200, JSON.stringify(ok.body)); // same bytes as the stored digits_cnn
    assert.equal(ok.body.status, 'duplicate');
    const evil = await call(srv, '/api/models?name=net.onnx&bundle=1', {
      method: 'POST',
      body: zipSync({ 'net.onnx': onnx, '../escape.txt': new Uint8Array(3) }),
    });
    expectError(evil, 400, 'path-traversal');
    const missing = await call(srv, '/api/models?name=other.onnx&bundle=1', {
      method: 'POST',
      body: zipSync({ 'net.onnx': onnx }),
    });
    expectError(missing, 400, 'bad-bundle', /no file "other\.onnx"/);
  });
});

describe('server guards: the analysis deadline', () => {
  it('a model whose analysis outlives the deadline is refused as corrupt and nothing is stored', async () => {
    const srv = await fixtureServer({ analysisTimeoutMs: 1 });
    try {
      const r = await call(srv, '/api/models?name=digits_cnn.pt', {
        method: 'POST',
        body: readFileSync(dataPath('digits_cnn.pt')),
      });
      expectError(r, 422, 'corrupt', /did not finish within 0\.001 s/);
      assert.equal((await call(srv, '/api/models')).body.models.length, 2);
    } finally {
      await srv.stop();
    }
  });
});
