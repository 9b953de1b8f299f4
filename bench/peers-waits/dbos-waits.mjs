// DBOS Transact (TypeScript) cases for Trellis's waits, the same DBOS as the peers' harness (@dbos-inc/dbos-sdk 5.3.0,
// configured as its dbos.mjs: defaults, systemDatabasePoolSize 10, log level warn; caller and runtime in one Node process).
//   timers --n 10000 --rate 1000   workflows that DBOS.sleep 2 s, started rate/10 every 100 ms; wake-up lateness
//   events --samples 200           DBOS.send -> DBOS.recv round trip on an idle system, one sample at a time
// Each writes one JSON result to stdout and to --out FILE, with the field names of bench/Trellis.Bench.
import { DBOS } from '@dbos-inc/dbos-sdk';
import pg from 'pg';
import { writeFileSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';

const args = parseArgs(process.argv.slice(2));
const workload = args._[0];
const url = `${process.env.BENCH_PG_BASE ?? 'postgres://bench:bench@127.0.0.1:5432'}/${args.db ?? 'peer_dbos'}?sslmode=disable`;
const poolSize = Number(args.poolSize ?? 10); // DBOS's default system-database pool size, as in the peers' dbos.mjs
const APP = 'peersbench';
const now = () => performance.now();
// Wall clock with sub-millisecond resolution, on the clock DBOS sets a sleep's end by (Date.now() of this process).
const wallMs = () => performance.timeOrigin + performance.now();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const hardLimit = setTimeout(() => { console.error('driver exceeded its hard limit; exiting'); process.exit(3); }, Number(args.hardLimitS ?? 900) * 1000);
hardLimit.unref();

// ---- workflows (registered before launch, as DBOS requires) ----
const NAP_MS = 2000;
const wokeAt = new Map(); // sample -> wall-clock ms at which the step after the sleep started
const napWf = DBOS.registerWorkflow(async (i) => {
  await DBOS.sleep(NAP_MS);
  return await DBOS.runStep(async () => { wokeAt.set(i, wallMs()); return i; }, { name: 'woke' });
}, { name: 'napWf' });

const TOPIC = 'go';
const wokeT = new Map(); // sample -> performance.now() at which the step after recv started
const waiterWf = DBOS.registerWorkflow(async (i) => {
  const message = await DBOS.recv(TOPIC); // default timeout, 60 s
  if (message !== i) throw new Error(`sample ${i} received ${message}`);
  return await DBOS.runStep(async () => { wokeT.set(i, now()); return i; }, { name: 'woke' });
}, { name: 'waiterWf' });

function configure() {
  DBOS.setConfig({ name: APP, systemDatabaseUrl: url, systemDatabasePoolSize: poolSize, logLevel: args.logLevel ?? 'warn' });
}

async function count(client, sql, params = []) {
  return Number((await client.query(sql, params)).rows[0].c);
}

// Timers: as bench/Trellis.Bench's `timers`. Lateness = the start of the step after the sleep minus the sleep's end as
// DBOS stored it (operation_outputs, DBOS.sleep: end = the process's Date.now() when the sleep was recorded + 2 s).
async function timers() {
  const n = Number(args.n ?? 10000);
  const rate = Number(args.rate ?? 1000);
  const perBatch = Math.max(1, Math.floor(rate / 10));
  configure();
  await DBOS.launch();
  const checker = new pg.Client({ connectionString: url });
  await checker.connect();
  const t0 = now();
  const ids = [];
  for (let next = 0; next < n; next += perBatch) {
    const due = t0 + (next / rate) * 1000;
    if (due > now()) await sleep(due - now());
    const batch = [];
    for (let i = next; i < Math.min(n, next + perBatch); i++) batch.push(DBOS.startWorkflow(napWf)(i));
    for (const h of await Promise.all(batch)) ids.push(h.workflowID);
  }
  const tStarted = now();
  const deadline = Date.now() + 600_000;
  while (await count(checker, `select count(*)::int as c from dbos.workflow_status where name = 'napWf' and status = 'SUCCESS'`) < n) {
    if (Date.now() > deadline) throw new Error('timeout waiting for all napWf SUCCESS');
    await sleep(50);
  }
  const tEnd = now();
  const ends = new Map((await checker.query(
    `select workflow_uuid, output from dbos.operation_outputs where function_name = 'DBOS.sleep' and workflow_uuid = any($1::text[])`, [ids])).rows
    .map((r) => [r.workflow_uuid, Number(JSON.parse(r.output))]));
  await checker.end();
  await DBOS.shutdown();
  const lateness = [];
  ids.forEach((id, i) => {
    if (!ends.has(id) || !wokeAt.has(i)) throw new Error(`workflow ${i} (${id}): no sleep end or no wake-up recorded`);
    lateness.push(wokeAt.get(i) - ends.get(id));
  });
  writeResult({
    system: 'dbos', workload: 'timers', n,
    config: { start: `DBOS.startWorkflow (direct, in-process), ${perBatch} per batch (Promise.all) every 100 ms`, sleep: 'DBOS.sleep (durable: the end is recorded in operation_outputs, then an in-process timer)', systemDatabasePoolSize: poolSize },
    sleepMs: NAP_MS, startsPerS: rate, startPhaseMs: tStarted - t0, achievedStartsPerS: n / ((tStarted - t0) / 1000),
    totalMs: tEnd - t0, lateness: stats(lateness),
  });
}

// Events: as bench/Trellis.Bench's `events --variant message`. Once the workflow waits in recv (its durable timeout is
// recorded, polled every 1 ms), then 20 ms of idle: wake = DBOS.send's start -> the start of the step after recv.
async function events() {
  const samples = Number(args.samples ?? 200);
  const warmup = Number(args.warmup ?? 10);
  const gapMs = Number(args.gapMs ?? 20);
  configure();
  await DBOS.launch();
  const checker = new pg.Client({ connectionString: url });
  await checker.connect();
  await sleep(1000);
  const wake = [], sendCall = [], e2e = [], toWaiting = [];
  for (let s = 0; s < warmup + samples; s++) {
    const tStart = now();
    const h = await DBOS.startWorkflow(waiterWf)(s);
    const deadline = Date.now() + 10_000;
    // recv records its timeout as a durable sleep, then registers for the notification and looks for a message.
    while (await count(checker, `select count(*)::int as c from dbos.operation_outputs where workflow_uuid = $1 and function_name = 'DBOS.sleep'`, [h.workflowID]) === 0) {
      if (Date.now() > deadline) throw new Error(`sample ${s}: not waiting in recv after 10 s`);
      await sleep(1);
    }
    const tWaiting = now();
    await sleep(gapMs);
    const t0 = now();
    await DBOS.send(h.workflowID, s, TOPIC);
    const tA = now();
    if ((await h.getResult()) !== s) throw new Error(`sample ${s}: wrong result`);
    const t1 = now();
    if (s >= warmup) {
      wake.push(wokeT.get(s) - t0); sendCall.push(tA - t0); e2e.push(t1 - t0); toWaiting.push(tWaiting - tStart);
    }
    await sleep(gapMs);
  }
  const done = await count(checker, `select count(*)::int as c from dbos.workflow_status where name = 'waiterWf' and status = 'SUCCESS'`);
  await checker.end();
  await DBOS.shutdown();
  if (done !== warmup + samples) throw new Error(`${done} waiterWf SUCCESS; expected ${warmup + samples}`);
  writeResult({
    system: 'dbos', workload: 'events-round-trip', variant: 'send-recv', n: samples, warmup, gapMs,
    config: { start: 'DBOS.startWorkflow (direct, in-process)', systemDatabasePoolSize: poolSize },
    waitCall: 'DBOS.recv(topic) (default timeout 60 s), sent with DBOS.send(workflowID, i, topic) from outside any workflow',
    measured: 'wake: send call start -> the waiting workflow\'s next step body starts (the workflow waited in recv, its timeout recorded, then 20 ms idle)',
    wake: stats(wake), publishCall: stats(sendCall), e2e: stats(e2e), startToWaitingObserved: stats(toWaiting),
    samplesMs: wake.map((x) => +x.toFixed(3)),
  });
}

// ---- helpers (nearest-rank percentiles, as the peers' lib/common.mjs and Trellis.Bench's Stats) ----
function parseArgs(argv) {
  const out = { _: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a.startsWith('--')) {
      if (i + 1 < argv.length && !argv[i + 1].startsWith('--')) out[a.slice(2)] = argv[++i];
      else out[a.slice(2)] = 'true';
    } else out._.push(a);
  }
  return out;
}

function stats(samples) {
  const s = [...samples].sort((a, b) => a - b);
  const pct = (p) => s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
  return { n: s.length, p50: pct(50), p90: pct(90), p99: pct(99), min: s[0], max: s[s.length - 1], mean: s.reduce((a, b) => a + b, 0) / s.length };
}

function writeResult(obj) {
  const full = { ...obj, dbosVersion: JSON.parse(readFileSync(new URL('./node_modules/@dbos-inc/dbos-sdk/package.json', import.meta.url))).version, node: process.version, finishedAt: new Date().toISOString() };
  if (args.out) {
    mkdirSync(dirname(args.out), { recursive: true });
    writeFileSync(args.out, JSON.stringify(full, null, 2) + '\n');
  }
  console.log(JSON.stringify(full));
}

const fns = { timers, events };
if (!fns[workload]) { console.error('usage: dbos-waits.mjs timers|events [--n N] [--rate R] [--samples S] [--db DB] [--out FILE]'); process.exit(2); }
fns[workload]().then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });
