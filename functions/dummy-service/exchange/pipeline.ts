/**
 * What every exchange request goes through (binance.md §3): injected faults (faults.ts), weight
 * per client IP — taken from the socket: all loaders on one machine share 127.0.0.1, which is
 * the point — then the handler, with the used-weight headers on every answer the exchange
 * processed, 429/418 with Retry-After, and Binance's error bodies.
 */
import type { HttpBindings } from '@hono/node-server';
import type { Context } from 'hono';
import type { Market } from '../../../shared/contracts/common.ts';
import type { ExchangeCore } from './exchange.ts';
import { SERVER_ERRORS } from './faults.ts';
import { BinanceApiError, type Query } from './params.ts';

/** Node bindings when served by @hono/node-server; absent in-process (app.request). */
export type ExchangeEnv = { Bindings: Partial<HttpBindings> | undefined };
type Env = ExchangeEnv;
/** An endpoint's logic: query → JSON body; throws BinanceApiError for Binance's own errors. */
export type Handler = (q: Query, now: number) => unknown;

const JSON_TYPE = 'application/json;charset=UTF-8';
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function clientIp(c: Context<Env>): string {
  const addr = c.env?.incoming?.socket.remoteAddress;
  return addr ? addr.replace(/^::ffff:/, '') : 'local';
}

/** Returns `endpoint(market, weight, handler)`, which makes a hono handler of an endpoint. */
export function createPipeline(ex: ExchangeCore) {
  let warnedNoSocket = false;
  const count = (status: number) => {
    ex.counters.byStatus[status] = (ex.counters.byStatus[status] ?? 0) + 1;
  };

  return function endpoint(market: Market, weight: (q: Query) => number, handle: Handler) {
    return async (c: Context<Env>): Promise<Response> => {
      const plan = ex.faults.plan(ex.nextSeq());
      ex.counters.requests[market]++;
      if (plan.latencyMs > 0) {
        ex.counters.faults.latency++;
        await sleep(plan.latencyMs);
      }
      if (plan.fault === 'reset') {
        ex.counters.faults.reset++;
        const socket = c.env?.incoming?.socket;
        if (socket) socket.destroy();
        else if (!warnedNoSocket) {
          // In-process (app.request), or a server that does not pass node's bindings as env.
          warnedNoSocket = true;
          ex.logger?.warn(
            'connection reset fault: no socket in the request env, answering an empty 502 instead',
          );
        }
        return new Response(null, { status: 502 });
      }
      if (plan.fault === '5xx') {
        ex.counters.faults.http5xx++;
        count(plan.status);
        const e = SERVER_ERRORS[plan.status];
        return new Response(e.body, { status: plan.status, headers: { 'Content-Type': e.type } });
      }
      const storm = ex.storm.current;
      if (storm !== undefined && storm.remaining > 0) {
        // An injected storm (POST /sim/faults): answered like an IP over its limit, or banned.
        if (--storm.remaining === 0) ex.storm.current = undefined;
        count(storm.status);
        const msg =
          storm.status === 418
            ? 'Way too much request weight used; IP banned (simulated storm). Please use WebSocket Streams for live updates to avoid bans.'
            : 'Too much request weight used (simulated storm). Please use WebSocket Streams for live updates to avoid polling the API.';
        return new Response(new BinanceApiError(storm.status, -1003, msg).body(), {
          status: storm.status,
          headers: { 'Content-Type': JSON_TYPE, 'Retry-After': String(storm.retryAfterS) },
        });
      }
      const now = ex.now();
      const q = c.req.query();
      const verdict = ex.limiters[market].charge(clientIp(c), weight(q), now);
      const headers: Record<string, string> = {
        'Content-Type': JSON_TYPE,
        'X-MBX-USED-WEIGHT-1M': String(verdict.used),
        'X-MBX-USED-WEIGHT': String(verdict.used),
      };
      const limit = market === 'spot' ? ex.config.weightLimit : ex.config.futuresWeightLimit;
      let status = 200;
      let body: string;
      if (verdict.kind === 'banned') {
        status = 418;
        headers['Retry-After'] = String(verdict.retryAfterS);
        body = new BinanceApiError(
          418,
          -1003,
          `Way too much request weight used; IP banned until ${verdict.until}. Please use WebSocket Streams for live updates to avoid bans.`,
        ).body();
        ex.logger?.warn({ market, ip: clientIp(c), until: verdict.until }, 'ip banned');
      } else if (verdict.kind === 'limited') {
        status = 429;
        headers['Retry-After'] = String(verdict.retryAfterS);
        body = new BinanceApiError(
          429,
          -1003,
          `Too much request weight used; current limit is ${limit} request weight per 1 MINUTE. Please use WebSocket Streams for live updates to avoid polling the API.`,
        ).body();
      } else {
        try {
          body = JSON.stringify(handle(q, now));
        } catch (e) {
          if (!(e instanceof BinanceApiError)) throw e;
          status = e.status;
          body = e.body();
        }
        if (plan.malformed && status === 200) {
          ex.counters.faults.malformed++;
          body = body.slice(0, Math.max(1, Math.floor(body.length / 2)));
        }
      }
      count(status);
      return new Response(body, { status, headers });
    };
  };
}
