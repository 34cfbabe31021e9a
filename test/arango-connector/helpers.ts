/** Test helpers for the connector: records, rows, batches, KafkaSource-style POSTs, port fakes. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { OpenAPIHono } from '@hono/zod-openapi';
import type { BusEvent, EventBus, OutgoingMessage } from '../../shared/bus/event-bus.ts';
import { decodeEvent, type WireRecord } from '../../shared/bus/kafka-binding.ts';
import {
  batchId,
  canonicalCollection,
  EventTypes,
  sourceOf,
  type DataBatch,
} from '../../shared/contracts/events.ts';
import type { Kline, RecordKind, RecordOfKind, SeriesId } from '../../shared/contracts/records.ts';
import { rowFromRecord, type Row, type RowValue } from '../../shared/contracts/rows.ts';
import type { QueueEventInput } from '../../shared/contracts/workflow.ts';
import { DependencyError } from '../../shared/runtime/errors.ts';
import { createLogger } from '../../shared/runtime/logger.ts';
import { createSqliteStore } from '../../shared/store/sqlite-store.ts';
import type { Store } from '../../shared/store/store.ts';

export const logger = createLogger('test', 'silent');
export const QUEUE_ID = 'wf-btcusdt-api_candles_1m-20240101-a1b2c3';
export const KLINES = canonicalCollection('kline');
export const T0 = Date.UTC(2024, 0, 1);
const MINUTE = 60_000;

/** A valid 1m kline with all 12 fields; `i` minutes after T0. */
export function kline(i: number, over: Partial<Kline> = {}): Kline {
  const open_time = T0 + i * MINUTE;
  return {
    market: 'spot',
    symbol: 'BTCUSDT',
    interval: '1m',
    open_time,
    open: `${42000 + i}.01000000`,
    high: `${42010 + i}.00000000`,
    low: `${41990 + i}.12345678`,
    close: `${42005 + i}.10000000`,
    volume: '12.34500000',
    close_time: open_time + MINUTE - 1,
    quote_volume: '518490.12000000',
    trades: 100 + i,
    taker_buy_base: '6.10000000',
    taker_buy_quote: '256000.50000000',
    ignore: '0',
    ...over,
  };
}

/** kline(i, over) as a batch carries it: the exchange's 12-field row. */
export function klineRow(i: number, over: Partial<Kline> = {}): RowValue[] {
  return rowFromRecord('kline', kline(i, over));
}

/**
 * Valid records of every kind, all of one series per kind, with each optional field both present
 * and absent: what the row tests round-trip and mutate.
 */
export const SAMPLES: { [K in RecordKind]: { series: SeriesId; records: RecordOfKind[K][] } } = {
  kline: {
    series: { market: 'spot', symbol: 'BTCUSDT', dataset: 'klines_1m' },
    records: [kline(0), kline(1)],
  },
  trade: {
    series: { market: 'spot', symbol: 'BTCUSDT', dataset: 'trades' },
    records: [
      {
        market: 'spot',
        symbol: 'BTCUSDT',
        id: 1111468873,
        price: '61234.56000000',
        qty: '0.00100000',
        quote_qty: '61.23456000',
        time: 1634942949263,
        is_buyer_maker: true,
        is_best_match: true,
      },
      {
        market: 'spot',
        symbol: 'BTCUSDT',
        id: 1111468874,
        price: '61234.57000000',
        qty: '0.50000000',
        quote_qty: '30617.28500000',
        time: 1634942949263,
        is_buyer_maker: false,
      },
      {
        market: 'spot',
        symbol: 'BTCUSDT',
        id: 0,
        price: '0',
        qty: '0',
        quote_qty: '0',
        time: 0,
        is_buyer_maker: false,
        is_best_match: false,
      },
    ],
  },
  agg_trade: {
    series: { market: 'usdm', symbol: 'ETHUSDT', dataset: 'agg_trades' },
    records: [
      {
        market: 'usdm',
        symbol: 'ETHUSDT',
        agg_id: 966492862,
        price: '4012.5',
        qty: '3',
        first_trade_id: 1,
        last_trade_id: 3,
        time: 1634942949263,
        is_buyer_maker: false,
      },
      {
        market: 'usdm',
        symbol: 'ETHUSDT',
        agg_id: 966492863,
        price: '4012.6',
        qty: '0.001',
        first_trade_id: -1,
        last_trade_id: -1,
        time: 1634942949264,
        is_buyer_maker: true,
        is_best_match: true,
      },
    ],
  },
  funding: {
    series: { market: 'usdm', symbol: 'BTCUSDT', dataset: 'funding' },
    records: [
      {
        market: 'usdm',
        symbol: 'BTCUSDT',
        funding_time: 1570608000000,
        funding_rate: '-0.00010000',
        mark_price: '8000.1',
      },
      { market: 'usdm', symbol: 'BTCUSDT', funding_time: 1570636800000, funding_rate: '0.00010000' },
    ],
  },
  book_ticker: {
    series: { market: 'spot', symbol: 'NKNUSDT', dataset: 'book_ticker' },
    records: [
      {
        market: 'spot',
        symbol: 'NKNUSDT',
        update_id: 499869768,
        time: 1633998512000,
        bid_price: '0.35210000',
        bid_qty: '672.00000000',
        ask_price: '0.35260000',
        ask_qty: '3199.00000000',
      },
    ],
  },
  depth: {
    series: { market: 'usdm', symbol: 'SUSHIUSDT', dataset: 'depth' },
    records: [
      {
        market: 'usdm',
        symbol: 'SUSHIUSDT',
        event_time: 1626992741037,
        first_update_id: 600859599090,
        final_update_id: 600859600917,
        prev_final_update_id: 600859599001,
        bids: [['7.5040', '813']],
        asks: [],
      },
      {
        market: 'usdm',
        symbol: 'SUSHIUSDT',
        event_time: 1626992741137,
        first_update_id: 600859600918,
        final_update_id: 600859601000,
        bids: [],
        asks: [
          ['7.5050', '1.5'],
          ['7.5060', '0'],
        ],
      },
    ],
  },
};

/**
 * A kline data event as the loader publishes it: seq-th page of `size` minutes, as rows
 * (`rows` replaces them, e.g. with malformed ones).
 */
export function klineBatch(
  seq: number,
  size: number,
  opts: { queue_id?: string | undefined; attempt?: number; rows?: unknown[] } = {},
): BusEvent<DataBatch> {
  const first = seq * size;
  const rows = opts.rows ?? Array.from({ length: size }, (_, j) => klineRow(first + j));
  const covers = { from: T0 + first * MINUTE, to: T0 + (first + size) * MINUTE };
  const at = { market: 'spot', symbol: 'BTCUSDT', dataset: 'klines_1m', covers };
  const data: DataBatch = {
    ...(opts.queue_id === undefined ? {} : { queue_id: opts.queue_id }),
    ...(opts.attempt === undefined ? {} : { attempt: opts.attempt }),
    kind: 'kline',
    market: 'spot',
    symbol: 'BTCUSDT',
    dataset: 'klines_1m',
    collection: KLINES,
    seq,
    covers,
    gaps: [],
    rows,
  };
  return {
    specversion: '1.0',
    id: batchId(
      at,
      rows.filter((r): r is Row => Array.isArray(r) && typeof (r as unknown[])[0] === 'number'),
    ),
    source: sourceOf('loader-api'),
    type: EventTypes.data('kline'),
    time: new Date(T0).toISOString(),
    datacontenttype: 'application/json',
    data,
    ...(opts.queue_id === undefined ? {} : { extensions: { queueid: opts.queue_id } }),
  };
}

/** The loader's final queue-event: everything published, N batches. */
export function loaderFinal(n: number, attempt = 1): BusEvent<QueueEventInput> {
  return {
    specversion: '1.0',
    id: `${QUEUE_ID}-final-${attempt}`,
    source: sourceOf('loader-api'),
    type: EventTypes.queueEvent,
    time: new Date().toISOString(),
    datacontenttype: 'application/json',
    data: {
      queue_id: QUEUE_ID,
      producer: 'loader-api',
      symbol: 'BTCUSDT',
      type: 'api_candles_1m',
      status: 'loading',
      message: 'loader finished',
      records_written: 0,
      finished: false,
      timestamp: new Date().toISOString(),
      attempt,
      batches_published: n,
      gaps: [],
    },
  };
}

let offset = 0;
/**
 * POSTs an event exactly as a KafkaSource delivers a CloudEvent record (knative.md §3): binary
 * mode, `ce-*` headers, data as the body, `Prefer: reply`, plus the partition/offset extensions.
 */
export function deliver(app: OpenAPIHono, event: BusEvent): Promise<Response> {
  const headers: Record<string, string> = {
    'ce-specversion': '1.0',
    'ce-id': event.id,
    'ce-source': event.source,
    'ce-type': event.type,
    'content-type': 'application/json',
    prefer: 'reply',
    'kn-namespace': 'streamforge',
    'ce-knativekafkapartition': '0',
    'ce-knativekafkaoffset': String(offset++),
  };
  if (event.time !== undefined) headers['ce-time'] = event.time;
  for (const [k, v] of Object.entries(event.extensions ?? {})) headers[`ce-${k}`] = v;
  return Promise.resolve(app.request('/', { method: 'POST', headers, body: JSON.stringify(event.data) }));
}

/** An EventBus fake that records what is published (and can be made to fail). */
export class RecordingBus implements EventBus {
  readonly published: { topic: string; message: OutgoingMessage }[] = [];
  down = false;
  ensureTopics = (): Promise<void> => Promise.resolve();
  publish(topic: string, messages: OutgoingMessage[]): Promise<void> {
    if (this.down) return Promise.reject(new Error('broker unreachable'));
    for (const message of messages) this.published.push({ topic, message: structuredClone(message) });
    return Promise.resolve();
  }
  publishWire(topic: string, records: WireRecord[]): Promise<void> {
    if (this.down) return Promise.reject(new Error('broker unreachable'));
    for (const r of records)
      this.published.push({ topic, message: { key: r.key, event: decodeEvent(r.headers, r.value) } });
    return Promise.resolve();
  }
  subscribe(): Promise<never> {
    return Promise.reject(new Error('RecordingBus does not deliver'));
  }
  ping = (): Promise<void> => Promise.resolve();
  close = (): Promise<void> => Promise.resolve();
  events(topic: string): BusEvent[] {
    return this.published.filter((p) => p.topic === topic).map((p) => p.message.event);
  }
}

/**
 * A Store whose every call goes to `inner`, or fails like an unreachable database while `down`,
 * or fails only the calls named in `failing`.
 */
export function flakyStore(inner: Store) {
  const state = { inner, down: false, failing: new Set<keyof Store>() };
  const store = new Proxy({} as Store, {
    get(_t, prop: keyof Store) {
      return (...args: unknown[]): Promise<unknown> => {
        if (prop !== 'close' && (state.down || state.failing.has(prop))) {
          return Promise.reject(new DependencyError(`store down (${String(prop)})`));
        }
        return (state.inner[prop] as (...a: unknown[]) => Promise<unknown>).apply(state.inner, args);
      };
    },
  });
  return { store, state };
}

/** A real SQLite file in a fresh temp dir. */
export function tempSqlite(): { store: Store; file: string; cleanup: () => Promise<void> } {
  const dir = mkdtempSync(path.join(tmpdir(), 'sf-connector-'));
  const file = path.join(dir, 'store.sqlite');
  const store = createSqliteStore({ path: file });
  return {
    store,
    file,
    cleanup: async () => {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Deterministic shuffle (mulberry32), so a failing order can be replayed. */
export function shuffle<T>(items: T[], seed: number): T[] {
  let a = seed >>> 0;
  const rand = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

/** One sample from Prometheus text exposition: the runtime tests' reader. */
export { sampleValue } from '../runtime/prom-text.ts';
