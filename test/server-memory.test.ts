/**
 * The server's memory under big requests (issue #17, item 11), measured as the resident memory of a server
 * in a child process (/proc): concurrent big uploads are streamed to disk, not buffered, and a SELECT with a
 * huge result is cut at the byte cap before its values become JS values.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type ChildServer, HAS_PROC, startChildServer } from './support/child-server.js';

const MB = 1 << 20;

describe('server memory (child process)', {
  skip: HAS_PROC ? false : 'needs /proc to measure the child',
}, () => {
  let srv: ChildServer;
  before(async () => {
    srv = await startChildServer({ maxUpload: 128 * MB, maxUploadInFlight: 512 * MB });
  });
  after(() => srv?.stop());

  async function post(path: string, body: BodyInit, headers: Record<string, string> = {}) {
    const res = await fetch(new URL(path, srv.url), {
      method: 'POST',
      headers: { authorization: `Bearer ${srv.token}`, ...headers },
      body,
      duplex: 'half',
    } as RequestInit);
    return { status: res.status, body: JSON.parse(await res.text()) };
  }

  /** Peak RSS growth (MB) of the child while `fn` runs. */
  async function growth(fn: () => Promise<void>): Promise<number> {
    srv.resetPeak();
    const start = srv.memory().rss;
    await fn();
    return (srv.memory().peak - start) / MB;
  }

  const sql = (query: string) =>
    post('/api/sql', JSON.stringify({ sql: query }), { 'content-type': 'application/json' });

  /** A body of `size` bytes produced 1 MiB at a time (the test never holds it whole either). */
  function stream(size: number): ReadableStream<Uint8Array> {
    let sent = 0;
    return new ReadableStream({
      pull(c) {
        if (sent >= size) return c.close();
        const n = Math.min(MB, size - sent);
        c.enqueue(new Uint8Array(n).fill(sent / MB));
        sent += n;
      },
    });
  }

  it('three concurrent 100 MB uploads raise its memory by far less than their size', async (t) => {
    const grew = await growth(async () => {
      const answers = await Promise.all(
        [1, 2, 3].map((i) => post(`/api/models?name=big${i}.onnx`, stream(100 * MB))),
      );
      for (const a of answers) assert.equal(a.status, 422, JSON.stringify(a.body)); // zeros are no model
    });
    t.diagnostic(`peak RSS grew ${grew.toFixed(0)} MB`);
    // buffered, the bodies alone were 300 MB (and a copy while concatenating)
    assert.ok(grew < 200, `peak RSS grew ${grew.toFixed(0)} MB for 300 MB of uploads`);
  });

  it('a SELECT of 10 M values in one cell stops at the byte cap without converting them', async (t) => {
    // DuckDB builds the list in ~280 MB; converted to JS and JSON it took 1.3 GB (measured in-process)
    const grew = await growth(async () => {
      const one = await sql('SELECT list(i) AS r FROM range(10000000) t(i)');
      assert.equal(one.status, 200, JSON.stringify(one.body));
      assert.deepEqual([one.body.rowCount, one.body.truncatedBy], [0, 'bytes']);
    });
    t.diagnostic(`peak RSS grew ${grew.toFixed(0)} MB`);
    assert.ok(grew < 600, `peak RSS grew ${grew.toFixed(0)} MB`);
  });

  it('3000 rows of 100 kB stop at the byte cap (16 MiB), not the row cap', async (t) => {
    const grew = await growth(async () => {
      const many = await sql("SELECT i, repeat('x', 100000) AS s FROM range(3000) t(i)");
      assert.equal(many.status, 200, JSON.stringify(many.body));
      assert.deepEqual([many.body.rowCount, many.body.truncatedBy], [167, 'bytes']);
    });
    t.diagnostic(`peak RSS grew ${grew.toFixed(0)} MB`);
    // DuckDB's chunk of 2048 such rows is 200 MB; all 3000 rows as JS strings and JSON were > 1 GB
    assert.ok(grew < 450, `peak RSS grew ${grew.toFixed(0)} MB`);
  });
});
