/**
 * A compressed 24-hour soak of loader-ws (issue 13 "Measure"): the exchange's connection cut comes
 * every `BENCH_CUT_S` seconds instead of 24 h (loader-ws rotates make-before-break at 5/6 of it),
 * every socket is dropped (1006) every minute and goes silent for 2 s every 45 s. Live aggTrade and
 * trade workflows on two busy symbols run for `BENCH_MINUTES`; then the published ids are compared
 * with what the simulator's REST API says exists in [start, end): missing after gap-fill, published
 * twice. Also printed: the most messages the client sent the exchange in any second (pongs and
 * SUBSCRIBEs; the limit is 5) and its violations, rotations, reconnects, refills, and this
 * process's RSS every 15 s (it should stay flat).
 *
 *   npx tsx bench/ws-soak.ts        BENCH_MINUTES=5 BENCH_CUT_S=60 BENCH_TPM=6000
 */
import { createMemoryBus } from '../shared/bus/memory-bus.ts';
import { EventTypes, Topics } from '../shared/contracts/events.ts';
import type { WorkflowType } from '../shared/contracts/workflow.ts';
import { createSqliteStore } from '../shared/store/sqlite-store.ts';
import { benchLoader, silent, startLive, startSimProcess } from './ws-common.ts';

const MINUTES = Number(process.env['BENCH_MINUTES'] ?? 5);
const CUT_S = Number(process.env['BENCH_CUT_S'] ?? 60);
const TPM = Number(process.env['BENCH_TPM'] ?? 6000);
const SYMBOLS = ['BTCUSDT', 'ETHUSDT'];
const TYPES: WorkflowType[] = ['ws_agg_trades', 'ws_trades'];

const sim = await startSimProcess({
  SIM_SYMBOLS: SYMBOLS.join(','),
  SIM_TRADES_PER_MINUTE: String(TPM),
  SIM_WS_MAX_CONNECTION_MS: String(CUT_S * 1000),
  SIM_WS_DISCONNECT_EVERY_MS: '60000',
  SIM_WS_STALL_EVERY_MS: '45000',
  SIM_WS_STALL_MS: '2000',
  // Pings as often as the compression: a client that stops answering is cut within the run.
  SIM_WS_PING_INTERVAL_MS: '5000',
  SIM_WS_PONG_TIMEOUT_MS: '15000',
});
const { url } = sim;

const bus = createMemoryBus({ logger: silent, retryBackoffMs: 5 });
const store = createSqliteStore({ path: ':memory:' });
const published = new Map<string, number[]>();
let finished = 0;
await bus.subscribe({
  groupId: 'soak',
  topics: [Topics.data('agg_trade'), Topics.data('trade'), Topics.events],
  from: 'earliest',
  handler: (m) => {
    if (m.event.type === EventTypes.queueEvent) {
      const e = m.event.data as { message: string; status: string };
      if (e.message === 'loader finished' || e.status === 'error') finished += 1;
    } else {
      const d = m.event.data as { kind: string; symbol: string; rows: number[][] };
      const key = `${d.symbol} ${d.kind}`;
      const ids = published.get(key) ?? [];
      for (const r of d.rows) ids.push(r[0]!);
      published.set(key, ids);
    }
    return Promise.resolve();
  },
});
const live = benchLoader(sim, bus, store, { rotateAfterMs: (CUT_S * 1000 * 5) / 6, rotateOverlapMs: 2000 });
await live.start();
const start = Date.now();
const end = start + MINUTES * 60_000;
for (const symbol of SYMBOLS) for (const type of TYPES) await startLive(live, type, symbol, { start, end });
const rss: string[] = [];
const sample = setInterval(() => rss.push(`${Math.round(process.memoryUsage().rss / 2 ** 20)}`), 15_000);
while (finished < SYMBOLS.length * TYPES.length) await new Promise((r) => setTimeout(r, 250));
clearInterval(sample);

/** What the exchange made in [start, end): agg ids, or trade ids (from the first agg's first trade). */
async function truth(symbol: string, kind: string): Promise<number[]> {
  const first = (await (
    await fetch(`${url}/api/v3/aggTrades?symbol=${symbol}&startTime=${start}&endTime=${end - 1}&limit=1`)
  ).json()) as Array<{ a: number; f: number }>;
  if (!first[0]) return [];
  const agg = kind === 'agg_trade';
  const ids: number[] = [];
  for (let id = agg ? first[0].a : first[0].f; ;) {
    const path = agg ? 'aggTrades' : 'historicalTrades';
    const rows = (await (
      await fetch(`${url}/api/v3/${path}?symbol=${symbol}&fromId=${id}&limit=1000`)
    ).json()) as Array<Record<string, number>>;
    const inRange = rows.filter((r) => (agg ? r['T']! : r['time']!) < end);
    ids.push(...inRange.map((r) => (agg ? r['a']! : r['id']!)));
    if (rows.length < 1000 || inRange.length < rows.length) return ids;
    id = ids.at(-1)! + 1;
  }
}

const simStats = (await (await fetch(`${url}/sim/ws/stats`)).json()) as Record<string, unknown>;
console.log(
  `loader-ws soak: ${MINUTES} min, cut every ${CUT_S} s (rotation at 5/6), drop every 60 s, 2 s stall every 45 s`,
);
console.log('series                 exchange made   published   missing   duplicated');
for (const symbol of SYMBOLS)
  for (const kind of ['agg_trade', 'trade']) {
    const want = await truth(symbol, kind);
    const got = published.get(`${symbol} ${kind}`) ?? [];
    const have = new Set(got);
    const missing = want.filter((id) => !have.has(id)).length;
    console.log(
      `${`${symbol} ${kind}`.padEnd(22)} ${String(want.length).padStart(13)} ${String(got.length).padStart(11)} ${String(missing).padStart(9)} ${String(got.length - have.size).padStart(12)}`,
    );
  }
const pools = live.stats().pools.spot;
const totals = [...live.totals().values()];
console.log(
  `exchange: disconnects ${String(simStats['disconnects'])}, stalls ${String(simStats['stalls'])}, cuts ${String(simStats['maxConnectionCuts'])}, ` +
    `client messages/s max ${String(simStats['maxIncomingPerSecond'])} (limit 5), violations ${String(simStats['violations'])}, ` +
    `pong timeouts ${String(simStats['pongTimeouts'])}`,
);
console.log(
  `loader-ws: rotations ${pools.rotations}, reconnects ${pools.reconnects}, control messages ${pools.controlSent}, ` +
    `refills ${totals.reduce((a, t) => a + t.gap_fills, 0)} (${totals.reduce((a, t) => a + t.filled_records, 0)} records), ` +
    `duplicates dropped ${totals.reduce((a, t) => a + t.duplicates, 0)}, unfilled ${totals.reduce((a, t) => a + t.unfilled_gaps, 0)}`,
);
console.log(`RSS every 15 s (MiB): ${rss.join(' ')}`);
await live.stop();
sim.stop();
process.exit(0);
