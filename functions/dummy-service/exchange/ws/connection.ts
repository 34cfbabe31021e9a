/**
 * One client connection: its streams, raw/combined mode, the incoming-message window (Binance
 * counts JSON, pings and pongs: binance.md §4) and the heartbeat (server pings, pongs that must
 * echo one within the timeout). Times here are wall-clock ms, not the exchange clock.
 */
import { WebSocket } from 'ws';
import type { Market } from '../../../../shared/contracts/common.ts';
import type { WsSimConfig } from './config.ts';
import type { StreamSpec } from './streams.ts';

export type MarketLimits = WsSimConfig['spot'];

/** After a close frame, a client that does not answer is cut this much later. */
const CLOSE_GRACE_MS = 2000;

export class Conn {
  /** Subscribed streams by name, in subscription order (LIST_SUBSCRIPTIONS). */
  readonly streams = new Map<string, StreamSpec>();
  /** Replies held back while the server is stalled. */
  readonly deferred: string[] = [];
  /** Most incoming messages seen in any 1 s. */
  maxPerSecond = 0;
  closing = false;
  nextPingAt: number;
  private readonly incoming: number[] = [];
  private pings: Array<{ payload: string; at: number }> = [];

  constructor(
    readonly id: number,
    readonly ws: WebSocket,
    readonly market: Market,
    readonly ip: string,
    readonly limits: MarketLimits,
    public combined: boolean,
    readonly openedAt: number,
  ) {
    this.nextPingAt = openedAt + limits.pingIntervalMs;
  }

  /** Counts one incoming message at `now`; false when the last 1 s holds more than the limit. */
  countIncoming(now: number): boolean {
    const q = this.incoming;
    q.push(now);
    let drop = 0;
    while (drop < q.length && q[drop]! <= now - 1000) drop++;
    if (drop > 0) q.splice(0, drop);
    this.maxPerSecond = Math.max(this.maxPerSecond, q.length);
    return q.length <= this.limits.maxIncomingPerSecond;
  }

  ping(payload: string, now: number): void {
    this.ws.ping(payload);
    this.pings.push({ payload, at: now });
    this.nextPingAt = now + this.limits.pingIntervalMs;
  }

  /** A pong answers the ping it echoes and every earlier one; unsolicited pongs answer nothing. */
  pong(payload: string): void {
    const i = this.pings.findIndex((p) => p.payload === payload);
    if (i >= 0) this.pings = this.pings.slice(i + 1);
  }

  /** Whether the oldest unanswered ping is older than the pong timeout. */
  pongOverdue(now: number): boolean {
    const oldest = this.pings[0];
    return oldest !== undefined && now - oldest.at > this.limits.pongTimeoutMs;
  }

  /** Sends a text frame when open; false when the socket is gone. */
  send(text: string): boolean {
    if (this.closing || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(text);
    return true;
  }

  /** Close frame with code and reason, then cut the socket if the client does not answer. */
  close(code: number, reason: string): void {
    if (this.closing) return;
    this.closing = true;
    this.ws.close(code, reason);
    setTimeout(() => this.ws.terminate(), CLOSE_GRACE_MS).unref();
  }

  /** Cut without a close frame (the client sees 1006). */
  terminate(): void {
    this.closing = true;
    this.ws.terminate();
  }
}
