/** Shared helpers of the exchange simulator tests: a real server on 127.0.0.1, port 0. */
import type { RawKline } from '../../shared/contracts/binance.ts';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readFileSync } from 'node:fs';
import { createAdaptorServer } from '@hono/node-server';
import {
  createExchange,
  type Exchange,
  type ExchangeOptions,
} from '../../functions/dummy-service/exchange/exchange.ts';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const fixturesDir = path.resolve(repoRoot, 'test/fixtures/binance');
export const fixture = (rel: string): unknown =>
  JSON.parse(readFileSync(path.join(fixturesDir, rel), 'utf8')) as unknown;

/** A pinned exchange clock: 2025-06-21 12:34:56.789 UTC, mid-minute. */
export const NOW = Date.UTC(2025, 5, 21, 12, 34, 56, 789);
export const MIN = 60_000;
export const HOUR = 3_600_000;
export const DAY = 86_400_000;

export interface Running {
  ex: Exchange;
  url: string;
  get(pathAndQuery: string): Promise<Response>;
  json<T = unknown>(pathAndQuery: string): Promise<T>;
  close(): Promise<void>;
}

/**
 * Serves an exchange with @hono/node-server directly (not shared/runtime/serve.ts): the node
 * bindings (client socket) must reach the app for per-IP weight and connection resets.
 */
export async function start(opts: ExchangeOptions = {}): Promise<Running> {
  const ex = createExchange(opts);
  const server = createAdaptorServer({ fetch: ex.app.fetch }) as Server;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const get = (p: string) => fetch(url + p);
  return {
    ex,
    url,
    get,
    async json<T>(p: string): Promise<T> {
      const res = await get(p);
      if (res.status !== 200) throw new Error(`${p}: HTTP ${res.status} ${await res.text()}`);
      return (await res.json()) as T;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A REST kline row: the wire tuple of shared/contracts/binance.ts. */
export type Row = RawKline;

/** Decimal string → integer in units of its last decimal (all strings of a field share decimals). */
export const units = (s: string): bigint => BigInt(s.replace('.', ''));

/** The candle the rows aggregate to, as comparable integers. */
export function aggregate(rows: Row[]) {
  const u = (i: number) => rows.map((r) => units(r[i] as string));
  const sum = (xs: bigint[]) => xs.reduce((a, b) => a + b, 0n);
  return {
    o: units(rows[0]![1]),
    h: u(2).reduce((a, b) => (b > a ? b : a)),
    l: u(3).reduce((a, b) => (b < a ? b : a)),
    c: units(rows[rows.length - 1]![4]),
    v: sum(u(5)),
    q: sum(u(7)),
    n: rows.reduce((a, r) => a + r[8], 0),
    vb: sum(u(9)),
    qb: sum(u(10)),
  };
}

export function asCandle(r: Row) {
  return aggregate([r]);
}
