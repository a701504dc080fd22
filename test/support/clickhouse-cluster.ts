/**
 * A two-shard ClickHouse cluster on loopback for tests and benches: two `clickhouse-server` processes (Debian's
 * package) with their own data folders and ports, and a `remote_servers` definition naming both shards as
 * cluster `filterdb_test`. `startCluster()` resolves null with the reason when the servers cannot run here.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const CLUSTER = 'filterdb_test';

export interface LocalCluster {
  /** HTTP URLs of the shards (the first is where the Distributed table is queried). */
  urls: string[];
  cluster: string;
  /** Seconds until both servers answered. */
  startSeconds: number;
  stop(): Promise<void>;
}

const SERVER_BINARIES = ['/usr/bin/clickhouse-server', '/usr/sbin/clickhouse-server', '/usr/bin/clickhouse'];

function serverBinary(): string[] | null {
  for (const b of SERVER_BINARIES) if (existsSync(b)) return b.endsWith('/clickhouse') ? [b, 'server'] : [b];
  const which = spawnSync('which', ['clickhouse-server'], { encoding: 'utf8' });
  return which.status === 0 && which.stdout.trim() ? [which.stdout.trim()] : null;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

function config(dir: string, ports: { http: number; tcp: number; inter: number }, shards: number[]): string {
  const replicas = shards
    .map((tcp) => `<shard><replica><host>127.0.0.1</host><port>${tcp}</port></replica></shard>`)
    .join('');
  return `<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><log>${dir}/server.log</log><errorlog>${dir}/server.err.log</errorlog><size>10M</size><count>1</count></logger>
  <http_port>${ports.http}</http_port>
  <tcp_port>${ports.tcp}</tcp_port>
  <interserver_http_port>${ports.inter}</interserver_http_port>
  <listen_host>127.0.0.1</listen_host>
  <max_concurrent_queries>20</max_concurrent_queries>
  <uncompressed_cache_size>67108864</uncompressed_cache_size>
  <mark_cache_size>67108864</mark_cache_size>
  <path>${dir}/data/</path>
  <tmp_path>${dir}/tmp/</tmp_path>
  <user_files_path>${dir}/user_files/</user_files_path>
  <format_schema_path>${dir}/format_schemas/</format_schema_path>
  <users_config>${dir}/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <mlock_executable>false</mlock_executable>
  <remote_servers><${CLUSTER}>${replicas}</${CLUSTER}></remote_servers>
</yandex>
`;
}

const USERS = `<?xml version="1.0"?>
<yandex>
  <profiles><default><max_memory_usage>2000000000</max_memory_usage><max_threads>2</max_threads><log_queries>1</log_queries></default></profiles>
  <users><default><password></password><networks><ip>127.0.0.1</ip><ip>::1</ip></networks><profile>default</profile><quota>default</quota></default></users>
  <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors><result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas>
</yandex>
`;

async function ping(url: string): Promise<boolean> {
  try {
    const r = await fetch(`${url}/ping`, { signal: AbortSignal.timeout(1000) });
    return r.ok;
  } catch {
    return false;
  }
}

/** Starts the two shards; null with the reason when that is not possible here. */
export async function startCluster(timeoutMs = 90_000): Promise<LocalCluster | { skip: string }> {
  const bin = serverBinary();
  if (!bin) return { skip: 'clickhouse-server is not installed (Debian: apt-get install clickhouse-server)' };
  const root = mkdtempSync(join(tmpdir(), 'filterdb-ch-'));
  const ports = [];
  for (let i = 0; i < 2; i++)
    ports.push({ http: await freePort(), tcp: await freePort(), inter: await freePort() });
  const procs: ChildProcess[] = [];
  const t0 = performance.now();
  const stop = async () => {
    await Promise.all(
      procs.map(
        (p) =>
          new Promise<void>((resolve) => {
            if (p.exitCode !== null || p.signalCode !== null) return resolve();
            const kill = setTimeout(() => p.kill('SIGKILL'), 10_000);
            p.once('exit', () => {
              clearTimeout(kill);
              resolve();
            });
            p.kill('SIGTERM');
          }),
      ),
    );
    process.removeListener('exit', killAll);
    rmSync(root, { recursive: true, force: true });
  };
  let exited = '';
  for (let i = 0; i < 2; i++) {
    const dir = join(root, `shard${i + 1}`);
    for (const sub of ['data', 'tmp', 'user_files', 'format_schemas'])
      mkdirSync(join(dir, sub), { recursive: true });
    writeFileSync(join(dir, 'users.xml'), USERS);
    writeFileSync(
      join(dir, 'config.xml'),
      config(
        dir,
        ports[i],
        ports.map((p) => p.tcp),
      ),
    );
    const p = spawn(bin[0], [...bin.slice(1), `--config-file=${join(dir, 'config.xml')}`], {
      cwd: dir,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    p.stderr?.on('data', (b) => {
      err = (err + String(b)).slice(-2000);
    });
    p.once('exit', (code, signal) => {
      exited ||= `clickhouse-server (shard ${i + 1}) exited (${code ?? signal}): ${err.trim().split('\n').slice(-3).join(' | ')}`;
    });
    p.once('error', (e) => {
      exited ||= `cannot start clickhouse-server: ${e.message}`;
    });
    procs.push(p);
  }
  // a crashed test must not leave servers behind
  const killAll = () => {
    for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
    rmSync(root, { recursive: true, force: true });
  };
  process.once('exit', killAll);
  const urls = ports.map((p) => `http://127.0.0.1:${p.http}`);
  while (performance.now() - t0 < timeoutMs) {
    if (exited) break;
    if ((await Promise.all(urls.map(ping))).every(Boolean))
      return { urls, cluster: CLUSTER, startSeconds: (performance.now() - t0) / 1000, stop };
    await new Promise((r) => setTimeout(r, 200));
  }
  await stop();
  return { skip: exited || `clickhouse-server did not answer within ${timeoutMs / 1000} s` };
}
