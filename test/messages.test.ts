/**
 * What the command line says (issue 12, items 10, 15, 16): warnings on stderr in every output mode, errors in
 * words with the fix where there is one, missing folders created, malformed metadata located by line and column.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { FilterDbError } from '../src/errors.js';
import { parseMetaCsv } from '../src/store/meta.js';
import { cliPath as cli, runCli } from './support/cli.js';
import { pseudoRandom, writeOnnx } from './support/onnx-writer.js';
import { dataPath } from './support/paths.js';

const tmp = mkdtempSync(join(tmpdir(), 'filterdb-messages-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const run = runCli;

describe('quality: warnings and what was not measured (item 10)', () => {
  // a 3x3 conv, a 1x1 conv, and a conv whose weight is computed at run time (a reader warning)
  const file = join(tmp, 'warned.onnx');
  writeFileSync(
    file,
    writeOnnx({
      inputs: ['x', 'w_runtime'],
      outputs: ['c'],
      initializers: [
        { name: 'k3', dims: [16, 8, 3, 3], values: pseudoRandom(16 * 8 * 9, 3) },
        { name: 'k1', dims: [8, 16, 1, 1], values: pseudoRandom(8 * 16, 4) },
      ],
      nodes: [
        { op: 'Conv', inputs: ['x', 'k3'], outputs: ['a'] },
        { op: 'Conv', inputs: ['a', 'k1'], outputs: ['b'] },
        { op: 'Conv', inputs: ['b', 'w_runtime'], outputs: ['c'] },
      ],
    }).bytes,
  );

  for (const mode of ['--csv', '--json', null]) {
    test(`warnings go to stderr with ${mode ?? 'the text table'}`, () => {
      const r = run(['quality', file, '--kernel', '3x3', ...(mode ? [mode] : [])]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /warning: .*w_runtime/);
      assert.doesNotMatch(r.stdout, /^warning:/m);
    });
  }

  test('the text summary says how many convs were not measured and why', () => {
    const r = run(['quality', file, '--kernel', '3x3']);
    assert.match(
      r.stdout,
      /1 layers measured, \d+ degenerated, 1 not measured \(1 kernel 1x1 not selected\)/,
    );
    assert.match(r.stdout, /1 warning from the reader \(on stderr\)/);
  });
});

describe('errors in words, folders created (item 15)', () => {
  test('a missing file is "no such file or folder", not ENOENT', () => {
    const r = run(['quality', join(tmp, 'nope.onnx')]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /cannot open: no such file or folder/);
    assert.doesNotMatch(r.stderr, /ENOENT/);
  });

  test('report --out and ingest --db create missing parent folders', () => {
    const out = join(tmp, 'new', 'reports', 'r.html');
    const r = run(['report', dataPath('digits_cnn.onnx'), '--out', out]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(existsSync(out));
    const db = join(tmp, 'fresh', 'dbs', 'z.duckdb');
    const i = run(['ingest', dataPath('digits_cnn.onnx'), '--db', db]);
    assert.equal(i.code, 0, i.stderr);
    assert.ok(existsSync(db));
  });

  test('a report that cannot be written says why in words', () => {
    const blocker = join(tmp, 'a-file');
    writeFileSync(blocker, 'x');
    const r = run(['report', dataPath('digits_cnn.onnx'), '--out', join(blocker, 'r.html')]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /cannot write the report: a part of the path is a file, not a folder/);
    assert.doesNotMatch(r.stderr, /ENOTDIR|EEXIST/);
  });

  test('a text file named .onnx and an empty file are "not a model file", with the supported formats', () => {
    const text = join(tmp, 'notes.onnx');
    writeFileSync(text, 'lorem ipsum dolor sit amet, this is a README\n'.repeat(4));
    const t = run(['quality', text]);
    assert.equal(t.code, 1);
    assert.match(t.stderr, /is a text file, not a model file .*Supported: .*ONNX \(\.onnx\)/);
    assert.doesNotMatch(t.stderr, /protobuf|field tag/);
    const empty = join(tmp, 'empty.onnx');
    writeFileSync(empty, '');
    const e = run(['quality', empty]);
    assert.equal(e.code, 1);
    assert.match(e.stderr, /is empty \(0 bytes\): not a model file\. Supported:/);
  });

  describe('a database held by serve', () => {
    const db = join(tmp, 'served.duckdb');
    let server: ChildProcess | null = null;
    const startServe = async (readOnly: boolean) => {
      const child = spawn(
        process.execPath,
        [cli, 'serve', '--db', db, '--port', '0', ...(readOnly ? ['--read-only'] : [])],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      server = child;
      await new Promise<void>((resolve, reject) => {
        let out = '';
        let err = '';
        child.stdout!.on('data', (d) => {
          out += d;
          if (out.includes('filterdb serving')) resolve();
        });
        child.stderr!.on('data', (d) => {
          err += d;
        });
        child.on('exit', (code) => reject(new Error(`serve exited (${code}): ${err}`)));
      });
    };
    const stopServe = async () => {
      const child = server;
      server = null;
      if (!child || child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    };
    after(stopServe);

    test('while serve writes it, sql suggests serve --read-only', async () => {
      assert.equal(
        run(['ingest', dataPath('digits_cnn.onnx'), dataPath('digits_dwsep.onnx'), '--db', db]).code,
        0,
      );
      await startServe(false);
      try {
        const r = run(['sql', '--db', db, 'SELECT count(*) FROM models']);
        assert.equal(r.code, 1);
        assert.match(r.stderr, /locked by filterdb serve \(PID \d+\).*filterdb serve --read-only/);
      } finally {
        await stopServe();
      }
    });

    test('while serve --read-only holds it, sql and report --db work; ingest is told to stop it', async () => {
      await startServe(true);
      try {
        const q = run(['sql', '--db', db, '--csv', 'SELECT count(*) AS n FROM models']);
        assert.equal(q.code, 0, q.stderr);
        assert.equal(q.stdout.trim().split('\n')[1], '2');
        const out = join(tmp, 'served.html');
        const r = run(['report', '--db', db, '--out', out]);
        assert.equal(r.code, 0, r.stderr);
        assert.ok(existsSync(out));
        const w = run(['ingest', dataPath('digits_cnn.pt'), '--db', db]);
        assert.equal(w.code, 1);
        assert.match(w.stderr, /locked by filterdb serve --read-only \(PID \d+\).*stop it to write/);
      } finally {
        await stopServe();
      }
    });

    test('sql "DELETE …" without --write exits 2 with a hint to --write', () => {
      const r = run(['sql', '--db', db, 'DELETE FROM models']);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /add --write/);
    });
  });
});

describe('metadata CSV errors name line and column (item 16)', () => {
  const err = (text: string) => {
    try {
      parseMetaCsv('m.csv', text);
    } catch (e) {
      assert.ok(e instanceof FilterDbError);
      return e.message;
    }
    assert.fail('no error');
  };

  test('a field too many, a stray quote, text after a closing quote, an unclosed quote', () => {
    assert.equal(
      err('model,Task\na,b\nc,d,e\n'),
      'm.csv: CSV line 3, column 5: field 3 is one too many: the header has 2 columns (a comma in a value needs quotes)',
    );
    assert.match(
      err('model,Task\na,b"c\n'),
      /^m\.csv: CSV line 2, column 4: a quote inside an unquoted field/,
    );
    assert.match(err('model,Task\n"a"x,b\n'), /^m\.csv: CSV line 2, column 4: "x" after a closing quote/);
    assert.match(
      err('model,Task\na,b\nc,"d\n'),
      /^m\.csv: CSV line 3, column 3: this quoted field is never closed/,
    );
    assert.match(err('model,,x\n'), /CSV line 1, column 7: the header's column 2 has no name/);
  });

  test('lines are counted in the file, across quoted newlines, CRLF and blank lines', () => {
    assert.match(err('model,Task\r\n"multi\nline",b\r\n\r\nc,d,e\r\n'), /CSV line 5, column 5: field 3/);
  });

  test('the CLI reports it for ingest --meta', () => {
    const meta = join(tmp, 'bad.csv');
    writeFileSync(meta, 'model,Task\ndigits_cnn,Classification,extra\n');
    const r = run(['ingest', dataPath('digits_cnn.onnx'), '--db', join(tmp, 'meta.duckdb'), '--meta', meta]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /bad\.csv: CSV line 2, column 27: field 3 is one too many/);
  });
});
