/**
 * bench/clickhouse: N synthetic 3x3 filters (bench/shift-data.ts, reused from bench/out/) exported into a
 * two-shard ClickHouse cluster on loopback (test/support/clickhouse-cluster.ts: Debian's clickhouse-server, two
 * processes on this machine), then `shift --by Task` with its passes run there (engine/). Prints the load
 * throughput, the seconds of each pass, the bytes the shards read (system.query_log), the bytes on disk, and
 * what 100 shards would take for 100 B filters at the measured per-shard rates (assumptions printed).
 *
 *   node dist/bench/clickhouse.js                      # 10 M filters
 *   node dist/bench/clickhouse.js --filters 100000000  # the 100 M (≈ 1 h of loading on 2 shared cores)
 */
import {
  chCommand,
  chRows,
  clickhouseClient,
  clickhouseEngine,
  parseClickHouseUrl,
} from '../src/engine/clickhouse.js';
import { exportToClickHouse } from '../src/engine/clickhouse-export.js';
import { planOnClickHouse } from '../src/engine/clickhouse-plan.js';
import { sqlShift } from '../src/engine/sql-shift.js';
import { storeShift } from '../src/scan/analyses.js';
import { planSelection } from '../src/scan/selection.js';
import { openDb } from '../src/store/db.js';
import { startCluster } from '../test/support/clickhouse-cluster.js';
import { log, syntheticDbArgs } from './bench-args.js';
import { ensureSyntheticDb } from './shift-data.js';

const { N, dbPath } = syntheticDbArgs('1e7');
const SHARDS = 2;

async function main() {
  log(`database: ${dbPath} (${N.toLocaleString('en-US')} filters)`);
  const built = await ensureSyntheticDb(dbPath, N, log);
  if (built.built) log(`built in ${built.seconds.toFixed(1)} s`);
  const c = await startCluster();
  if ('skip' in c) throw new Error(c.skip);
  log(`two shards up in ${c.startSeconds.toFixed(1)} s`);
  try {
    const nodes = c.urls.map((u) => parseClickHouseUrl(`${u}/filterdb`));
    const db = await openDb(dbPath, { readOnly: true });
    let load: Awaited<ReturnType<typeof exportToClickHouse>>;
    try {
      load = await exportToClickHouse(db, { nodes, cluster: c.cluster });
    } finally {
      db.close();
    }
    log(
      `export: ${load.filters.toLocaleString('en-US')} filters in ${load.seconds.toFixed(1)} s = ${(load.filters / load.seconds / 1e6).toFixed(2)} M filters/s`,
    );
    const t = nodes[0];
    const plan = await planOnClickHouse(t, { by: 'Task' });
    const engine = clickhouseEngine(t);
    const shiftStart = Date.now();
    const t0 = performance.now();
    const shift = await sqlShift(engine, plan);
    const querySeconds = (performance.now() - t0) / 1000;
    await engine.close();
    log(
      `shift --engine (by Task, ${shift.groups.length} groups): ${querySeconds.toFixed(2)} s (moments ${shift.seconds.moments.toFixed(2)}, range ${shift.seconds.range.toFixed(2)}, histograms ${shift.seconds.histograms.toFixed(2)})`,
    );
    // rows and bytes the three passes read on both shards: the initial queries' totals (they include the
    // remote shard's progress; the local shard is read in-process and logs no query of its own)
    let readBytes = 0;
    let readRows = 0;
    let diskBytes = 0;
    for (const [i, u] of c.urls.entries()) {
      const cl = clickhouseClient(parseClickHouseUrl(`${u}/filterdb`));
      await chCommand(cl, 'SYSTEM FLUSH LOGS', u);
      if (i === 0) {
        const [q] = await chRows(
          cl,
          `SELECT sum(read_bytes) AS b, sum(read_rows) AS r FROM system.query_log
           WHERE type = 2 AND is_initial_query = 1 AND query LIKE '%transform(%'
             AND event_time >= toDateTime(${Math.floor(shiftStart / 1000)})`,
          u,
        );
        readBytes = Number(q.b);
        readRows = Number(q.r);
      }
      const [p] = await chRows(
        cl,
        "SELECT sum(bytes) AS b FROM system.parts WHERE active AND database = 'filterdb' AND table = 'filters_local'",
        u,
      );
      diskBytes += Number(p.b);
      await cl.close();
    }
    log(
      `shards read ${(readBytes / 1e9).toFixed(2)} GB (${(readRows / 1e6).toFixed(1)} M rows) in the three passes; table on disk ${(diskBytes / 1e9).toFixed(2)} GB (${(diskBytes / N).toFixed(1)} B a filter)`,
    );
    // the embedded path on the same filters, for the equality check
    const local = await openDb(dbPath, { readOnly: true });
    const localPlan = await planSelection(local.connection, { by: 'Task' });
    local.close();
    const ref = await storeShift(dbPath, localPlan, {});
    let worst = 0;
    ref.matrix.flat().forEach((v, i) => {
      const d = Math.abs(v - shift.matrix.flat()[i]) / Math.max(Math.abs(v), 1e-300);
      if (d > worst) worst = d;
    });
    const sameCounts = JSON.stringify(ref.counts) === JSON.stringify(shift.counts);
    log(
      `equal to the embedded path: counts ${sameCounts ? 'identical' : 'DIFFER'}, matrix worst relative difference ${worst.toExponential(1)}`,
    );
    // extrapolation: 100 shards, 100 B filters = 1 B filters a shard
    const perShardLoad = load.filters / SHARDS / load.seconds;
    const perShardQuery = N / SHARDS / querySeconds;
    const target = 100e9;
    const shards = 100;
    const loadHours = target / shards / perShardLoad / 3600;
    const querySecondsAt = target / shards / perShardQuery;
    log(
      `100 shards, 100 B filters (1 B a shard): load ≈ ${loadHours.toFixed(1)} h with one loader per shard, shift ≈ ${querySecondsAt.toFixed(0)} s, ${(((diskBytes / N) * target) / 1e12).toFixed(1)} TB on disk`,
    );
    log(
      'assumptions: per-shard rates as measured here (each shard had ~1 of 2 shared cores), scaling linearly in filters a shard; shards scan in parallel; the coordinator merges groups × 9 × bins rows (negligible); loading from 100 parallel exporters, one per shard',
    );
    console.log(
      JSON.stringify({
        filters: N,
        shards: SHARDS,
        load: { seconds: load.seconds, filtersPerSecond: load.filters / load.seconds },
        shift: { seconds: querySeconds, passes: shift.seconds, groups: shift.groups.length },
        readBytes,
        diskBytes,
        equal: { counts: sameCounts, matrixWorstRelative: worst },
        extrapolated100Shards100B: {
          loadHours,
          shiftSeconds: querySecondsAt,
          diskTB: ((diskBytes / N) * target) / 1e12,
        },
      }),
    );
  } finally {
    await c.stop();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
