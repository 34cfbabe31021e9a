/**
 * loader-ws sustained rate and event-to-stored latency (issue 13 "Measure"): one loader-ws (this
 * process) into the embedded store. The simulated exchange runs in its own process
 * (`sim-main.ts`, no weight limit) and streams `BENCH_SYMBOLS` busy symbols × (aggTrade, trade,
 * bookTicker, depth@100ms) = 4·N streams over loopback; loader-ws publishes micro-batches on the
 * in-process bus and the arango-connector's handler stores them in a SQLite file (the embedded
 * path, as `npm start` runs it).
 *
 * Reference in the same run: a bare `ws` client on the same streams that only JSON.parses each
 * frame — the floor, what the simulator sends and one socket reads on this machine. loader-ws's
 * rate is printed as a ratio to it. Latency is store time minus the record's exchange time
 * (aggTrade/trade `T`, depth `E`; bookTicker has none on spot and uses the receive time), for every
 * tenth stored record. Peak RSS of this process (loader + store; the simulator is apart).
 *
 * Then the same with a real Kafka broker between loader-ws and the connector (KAFKA_BROKERS, or one
 * started for the run from .cache/kafka; BENCH_KAFKA=0 skips it).
 *
 *   npx tsx bench/ws.ts        BENCH_SYMBOLS=25 BENCH_SECONDS=10 BENCH_TPM=30000 BENCH_KAFKA=1
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import WebSocket from 'ws';
import { createConnector } from '../functions/arango-connector/app.ts';
import { createBus } from '../shared/bus/create-bus.ts';
import { createMemoryBus } from '../shared/bus/memory-bus.ts';
import { startKafka } from '../scripts/kafka.mjs';
import { Topics, canonicalCollection } from '../shared/contracts/events.ts';
import { RECORD_KINDS } from '../shared/contracts/records.ts';
import type { WorkflowType } from '../shared/contracts/workflow.ts';
import { createSqliteStore } from '../shared/store/sqlite-store.ts';
import { benchLoader, startLive, startSimProcess } from './ws-common.ts';

const N = Number(process.env['BENCH_SYMBOLS'] ?? 25);
const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 10);
const TPM = Number(process.env['BENCH_TPM'] ?? 30_000);
const log = pino({ level: 'silent' });
const symbols = Array.from({ length: N }, (_, i) => `S${String(i).padStart(3, '0')}USDT`);
const TYPES: WorkflowType[] = ['ws_agg_trades', 'ws_trades', 'ws_book_ticker', 'ws_depth'];
const SUFFIX: Record<string, string> = {
  ws_agg_trades: 'aggTrade',
  ws_trades: 'trade',
  ws_book_ticker: 'bookTicker',
  ws_depth: 'depth@100ms',
};
const streamName = (t: WorkflowType, s: string) => `${s.toLowerCase()}@${SUFFIX[t]}`;

const sim = await startSimProcess({
  SIM_SYMBOLS: symbols.join(','),
  SIM_TRADES_PER_MINUTE: String(TPM),
  SIM_WEIGHT_LIMIT: '0',
});
const { url, wsUrl } = sim;

const pct = (xs: number[], p: number) => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};

// ---- floor: a bare client that parses every frame
async function floor(): Promise<number> {
  const streams = symbols.flatMap((s) => TYPES.map((t) => streamName(t, s)));
  let n = 0;
  const sock = new WebSocket(`${wsUrl}/stream?streams=${streams.join('/')}`, { perMessageDeflate: false });
  sock.on('message', (raw: Buffer) => {
    JSON.parse(raw.toString('utf8'));
    n += 1;
  });
  await new Promise((r) => sock.once('open', r));
  await new Promise((r) => setTimeout(r, 1000));
  const n0 = n;
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, SECONDS * 1000));
  const rate = ((n - n0) / (performance.now() - t0)) * 1000;
  sock.terminate();
  return rate;
}

// ---- loader-ws into SQLite through the connector's handler
async function loader(
  brokers: string | undefined,
): Promise<{ rate: number; stored: number; p50: number; p99: number; rssMb: number }> {
  const dir = mkdtempSync(path.join(tmpdir(), 'sf-bench-ws-'));
  const store = createSqliteStore({ path: path.join(dir, 'bench.sqlite') });
  for (const kind of RECORD_KINDS) await store.ensureCollection(canonicalCollection(kind), 'series', kind);
  const bus =
    brokers === undefined
      ? createMemoryBus({ logger: log, retryBackoffMs: 5 })
      : createBus({ KAFKA_BROKERS: [brokers], KAFKA_CLIENT_ID: 'bench-ws' }, log);
  await bus.ensureTopics([...RECORD_KINDS.map((k) => ({ topic: Topics.data(k) })), { topic: Topics.events }]);
  const connector = createConnector({ store, bus, logger: log });
  await connector.start();
  const latencies: number[] = [];
  let stored = 0;
  const timeCol: Record<string, number> = { agg_trade: 5, trade: 4, book_ticker: 1, depth: 1 };
  await bus.subscribe({
    groupId: 'bench-sink',
    topics: RECORD_KINDS.map((k) => Topics.data(k)),
    from: 'latest',
    handler: async (m) => {
      await connector.handler.handleEvent(m.event, log);
      const d = m.event.data as { kind: string; rows: unknown[][] };
      const now = Date.now();
      const col = timeCol[d.kind] ?? 0;
      for (const r of d.rows) {
        stored += 1;
        if (stored % 10 === 0) latencies.push(now - (r[col] as number));
      }
    },
  });
  // The simulator runs without a weight limit (SIM_WEIGHT_LIMIT=0), and so does this client.
  const live = benchLoader(sim, bus, store, { progressIntervalMs: 1000 }, 1_000_000_000);
  if (process.env['BENCH_DEBUG'])
    await bus.subscribe({
      groupId: 'bench-debug',
      topics: [Topics.events],
      from: 'latest',
      handler: (m) => {
        const e = m.event.data as { status: string; queue_id: string; message: string };
        if (e.status === 'error' || e.status === 'started')
          console.log(e.status, e.queue_id, e.message, Date.now());
        return Promise.resolve();
      },
    });
  await live.start();
  for (const s of symbols) for (const type of TYPES) await startLive(live, type, s);
  const received = () => [...live.totals().values()].reduce((a, t) => a + t.received, 0);
  // Warm-up: each series first refills from its start over REST (those records are old on arrival).
  await new Promise((r) => setTimeout(r, 4000));
  const r0 = received();
  latencies.length = 0;
  const t0 = performance.now();
  let rss = 0;
  const watch = setInterval(() => (rss = Math.max(rss, process.memoryUsage().rss)), 200);
  await new Promise((r) => setTimeout(r, SECONDS * 1000));
  clearInterval(watch);
  const rate = ((received() - r0) / (performance.now() - t0)) * 1000;
  if (process.env['BENCH_DEBUG']) {
    console.log(JSON.stringify({ pools: live.stats().pools, totals: Object.fromEntries(live.totals()) }));
    console.log(JSON.stringify(await (await fetch(`${url}/sim/ws/stats`)).json()).slice(0, 800));
  }
  const out = { rate, stored, p50: pct(latencies, 50), p99: pct(latencies, 99), rssMb: rss / 2 ** 20 };
  await live.stop();
  await connector.stop();
  await store.close();
  await bus.close();
  rmSync(dir, { recursive: true, force: true });
  return out;
}

const f = await floor();
const embedded = await loader(undefined);
let kafka: Awaited<ReturnType<typeof loader>> | undefined;
if (process.env['BENCH_KAFKA'] !== '0') {
  const broker = process.env['KAFKA_BROKERS'] ? undefined : await startKafka({ heapMb: 512 });
  kafka = await loader(process.env['KAFKA_BROKERS'] ?? broker!.brokers);
  await broker?.stop();
}
console.log(
  `loader-ws bench: ${N} symbols × 4 = ${4 * N} streams, ${TPM} aggTrades/min/symbol, ${SECONDS} s per phase`,
);
console.log(`  floor (bare ws client, JSON.parse only): ${Math.round(f).toLocaleString()} msgs/s`);
for (const [name, l] of [
  ['embedded (in-process bus)', embedded],
  ['with Kafka', kafka],
] as const) {
  if (!l) continue;
  console.log(
    `  loader-ws → SQLite, ${name}: ${Math.round(l.rate).toLocaleString()} msgs/s (${(l.rate / f).toFixed(2)}× floor), ` +
      `${l.stored.toLocaleString()} records stored, event→stored p50 ${l.p50} ms, p99 ${l.p99} ms, peak RSS ${Math.round(l.rssMb)} MiB`,
  );
}
sim.stop();
process.exit(0);
