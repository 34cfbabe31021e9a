/**
 * Helpers of the WebSocket simulator tests: an exchange with REST and WS on one real server
 * (127.0.0.1, port 0), and a `ws` client that records every message and the close code.
 */
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { createAdaptorServer } from '@hono/node-server';
import { WebSocket } from 'ws';
import type { z } from 'zod';
import type { WsAggTradeEvent } from '../../shared/contracts/binance.ts';
import {
  createExchange,
  type Exchange,
  type ExchangeOptions,
} from '../../functions/dummy-service/exchange/exchange.ts';
import { createWsExchange, type WsExchange } from '../../functions/dummy-service/exchange/ws/server.ts';

export interface WsRunning {
  ex: Exchange;
  ws: WsExchange;
  /** http://127.0.0.1:port */
  url: string;
  /** ws://127.0.0.1:port */
  wsUrl: string;
  json<T = unknown>(pathAndQuery: string, init?: RequestInit): Promise<T>;
  close(): Promise<void>;
}

/** Busy symbols (~100 aggregated trades/s) without gaps, so a second of streaming has plenty. */
export const BUSY = [
  { symbol: 'BTCUSDT', tradesPerMinute: 6000 },
  { symbol: 'ETHUSDT', tradesPerMinute: 600 },
  { symbol: 'BTCUSDT', market: 'usdm' as const, tradesPerMinute: 6000 },
];

export async function startWs(opts: ExchangeOptions = {}): Promise<WsRunning> {
  const ex = createExchange({ symbols: BUSY, gaps: { perYear: 0 }, ...opts });
  const ws = createWsExchange(ex);
  const server = createAdaptorServer({ fetch: ex.app.fetch }) as Server;
  ws.attach(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const url = `http://127.0.0.1:${port}`;
  return {
    ex,
    ws,
    url,
    wsUrl: `ws://127.0.0.1:${port}`,
    async json<T>(p: string, init?: RequestInit): Promise<T> {
      const res = await fetch(url + p, init);
      if (res.status !== 200) throw new Error(`${p}: HTTP ${res.status} ${await res.text()}`);
      return (await res.json()) as T;
    },
    async close() {
      await ws.close();
      await new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      });
    },
  };
}

/** A control reply. */
export interface Reply {
  result?: unknown;
  error?: { code: number; msg: string };
  id: number | string | null;
}
/** A received frame: an event, `{stream, data}` or a reply. */
export type Frame = Record<string, unknown> & Partial<Reply> & { stream?: string; data?: unknown };

/** A JSON message as received, with its arrival time. */
export interface Received {
  at: number;
  data: Frame;
}

/** Event payloads (binance.md §4, §6). */
export interface TradeEv {
  e: 'trade';
  E: number;
  s: string;
  t: number;
  p: string;
  q: string;
  T: number;
  m: boolean;
  M?: boolean;
  X?: string;
}
export type AggEv = z.infer<typeof WsAggTradeEvent>;
export interface KlineEv {
  e: 'kline';
  E: number;
  s: string;
  k: {
    t: number;
    T: number;
    s: string;
    i: string;
    f: number;
    L: number;
    o: string;
    c: string;
    h: string;
    l: string;
    v: string;
    n: number;
    x: boolean;
    q: string;
    V: string;
    Q: string;
    B: string;
  };
}
export type Levels = Array<[string, string]>;
export interface DepthEv {
  e: 'depthUpdate';
  E: number;
  T?: number;
  s: string;
  U: number;
  u: number;
  pu?: number;
  b: Levels;
  a: Levels;
}

const isReply = (f: Frame) => 'id' in f && ('result' in f || 'error' in f);
/** The event of a frame (combined frames unwrapped). */
export const payload = <T>(f: Frame): T => (typeof f.stream === 'string' ? f.data : f) as T;

export class Client {
  readonly messages: Received[] = [];
  readonly pings: number[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  private waiters: Array<() => void> = [];
  private nextId = 1;

  constructor(readonly ws: WebSocket) {
    ws.on('message', (data: Buffer) => {
      this.messages.push({ at: Date.now(), data: JSON.parse(data.toString('utf8')) as Frame });
      for (const w of this.waiters.splice(0)) w();
    });
    ws.on('ping', () => this.pings.push(Date.now()));
    this.closed = new Promise((resolve) =>
      ws.on('close', (code, reason) => resolve({ code, reason: reason.toString('utf8') })),
    );
  }

  /** Resolves with the first message (from index `from`) matching `pred`. */
  async waitFor(pred: (m: Received) => boolean, timeoutMs = 4000, from = 0): Promise<Received> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.messages.slice(from).find(pred);
      if (hit) return hit;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no matching message within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** Waits for an event (combined frames unwrapped; `stream` filters them) matching `pred`. */
  async waitEvent<T>(
    pred: (e: T) => boolean = () => true,
    opts: { timeoutMs?: number; from?: number; stream?: string } = {},
  ): Promise<T> {
    const m = await this.waitFor(
      (r) =>
        !isReply(r.data) &&
        (opts.stream === undefined || r.data.stream === opts.stream) &&
        pred(payload<T>(r.data)),
      opts.timeoutMs,
      opts.from,
    );
    return payload<T>(m.data);
  }

  /** Sends a control message and waits for its reply. */
  async request(method: string, params?: unknown[]): Promise<Reply> {
    const id = this.nextId++;
    this.ws.send(JSON.stringify(params === undefined ? { method, id } : { method, params, id }));
    const m = await this.waitFor((r) => r.data.id === id && isReply(r.data));
    return m.data as Reply;
  }

  /** Received events (not control replies), unwrapped; `stream` keeps one stream of a combined connection. */
  events<T>(stream?: string, where: (m: Received) => boolean = () => true): T[] {
    return this.messages
      .filter((m) => !isReply(m.data) && (stream === undefined || m.data.stream === stream) && where(m))
      .map((m) => payload<T>(m.data));
  }

  close(): void {
    this.ws.terminate();
  }
}

/** Opens a client; rejects with `HTTP <status>` when the upgrade is refused. */
export function connect(url: string, opts: { autoPong?: boolean } = {}): Promise<Client> {
  const ws = new WebSocket(url, { autoPong: opts.autoPong ?? true });
  const client = new Client(ws);
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(client));
    ws.once('unexpected-response', (_req, res) => {
      reject(new Error(`HTTP ${res.statusCode}`));
      res.resume();
      ws.terminate();
    });
    ws.once('error', reject);
  });
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
