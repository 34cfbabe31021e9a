/**
 * The connections of one market: streams are packed into shards of at most `maxStreams` (1024
 * spot, 200 USD-M), one socket each. A dropped or silent socket is replaced after a jittered
 * exponential backoff that starts again from the base once the new socket delivers (so repeated
 * cuts cost a short wait each, not an ever longer one), with one pending timer per shard at most.
 * Before the exchange's 24-hour cut a shard rotates make-before-break: the new socket opens with
 * the same streams, both deliver for an overlap (the series drop what they already have), then the
 * old one closes. Connection attempts of all shards share one pacer (300 per 5 minutes).
 */
import type { Market } from '../../shared/contracts/common.ts';
import type { Logger } from '../../shared/runtime/logger.ts';
import { ControlError, StreamConnection } from './connection.ts';
import type { Pacer } from './pacer.ts';
import type { LiveSettings, WsLimits } from './schema.ts';

export interface PoolSink {
  message(stream: string, data: unknown, receivedAt: number): void;
  /** These streams were unsubscribed for a while (a drop, a silence): what happened meanwhile is missing. */
  resumed(streams: readonly string[]): void;
  /** The exchange refused to subscribe these streams. */
  refused(streams: readonly string[], err: ControlError): void;
  malformed(why: string): void;
}

export interface PoolStats {
  connections: number;
  reconnects: number;
  rotations: number;
  controlSent: number;
  /** Most control messages one connection sent in any second. */
  maxControlPerSecond: number;
  malformed: number;
}

interface Shard {
  streams: Set<string>;
  current: StreamConnection | undefined;
  /** The replacement opening during a rotation. */
  next: StreamConnection | undefined;
  attempt: number;
  reconnectTimer: NodeJS.Timeout | undefined;
  rotateTimer: NodeJS.Timeout | undefined;
  openTimer: NodeJS.Immediate | undefined;
  closed: boolean;
}

export interface PoolOptions {
  market: Market;
  baseUrl: string;
  limits: WsLimits;
  settings: LiveSettings;
  connectPacer: Pacer;
  logger: Logger;
  random?: () => number;
}

/** Regular cadence of a stream's messages (ms), or undefined when it sends only on trades. */
function cadenceMs(stream: string): number | undefined {
  if (stream.includes('@depth')) return stream.endsWith('@100ms') ? 100 : 1000;
  if (stream.includes('@kline_1s')) return 1000;
  if (stream.includes('@kline_')) return 2000;
  return undefined;
}

export class StreamPool {
  private readonly shards: Shard[] = [];
  private readonly refs = new Map<string, number>();
  private readonly random: () => number;
  private readonly counters = { reconnects: 0, rotations: 0, malformed: 0, controlSent: 0, maxControl: 0 };

  constructor(
    private readonly o: PoolOptions,
    private readonly sink: PoolSink,
  ) {
    this.random = o.random ?? Math.random;
  }

  add(stream: string): void {
    const n = this.refs.get(stream) ?? 0;
    this.refs.set(stream, n + 1);
    if (n > 0) return;
    let shard = this.shards.find((s) => !s.closed && s.streams.size < this.o.limits.maxStreams);
    if (!shard) {
      shard = {
        streams: new Set(),
        current: undefined,
        next: undefined,
        attempt: 0,
        reconnectTimer: undefined,
        rotateTimer: undefined,
        openTimer: undefined,
        closed: false,
      };
      this.shards.push(shard);
    }
    shard.streams.add(stream);
    const s = shard;
    // Streams added in the same tick share one URL (or one SUBSCRIBE).
    if (!s.current && !s.reconnectTimer && !s.openTimer) {
      s.openTimer = setImmediate(() => {
        s.openTimer = undefined;
        void this.connect(s, 'initial');
      });
      return;
    }
    for (const c of [s.current, s.next]) if (c?.isOpen) this.subscribe(c, [stream]);
  }

  remove(stream: string): void {
    const n = this.refs.get(stream) ?? 0;
    if (n > 1) return void this.refs.set(stream, n - 1);
    this.refs.delete(stream);
    const shard = this.shards.find((s) => s.streams.has(stream));
    if (!shard) return;
    shard.streams.delete(stream);
    if (shard.streams.size === 0) return this.closeShard(shard);
    for (const c of [shard.current, shard.next])
      if (c?.isOpen) c.unsubscribe([stream]).catch(() => undefined);
  }

  stats(): PoolStats {
    let connections = 0;
    let controlSent = this.counters.controlSent;
    let maxControl = this.counters.maxControl;
    for (const s of this.shards)
      for (const c of [s.current, s.next])
        if (c) {
          if (c.isOpen) connections += 1;
          controlSent += c.controlSent;
          maxControl = Math.max(maxControl, c.pacer.maxInWindow);
        }
    return {
      connections,
      reconnects: this.counters.reconnects,
      rotations: this.counters.rotations,
      controlSent,
      maxControlPerSecond: maxControl,
      malformed: this.counters.malformed,
    };
  }

  close(): void {
    for (const s of this.shards.splice(0)) this.closeShard(s);
  }

  private silenceMs(streams: Iterable<string>): number {
    if (this.o.settings.silenceMs > 0) return this.o.settings.silenceMs;
    let min = Number.POSITIVE_INFINITY;
    for (const s of streams) min = Math.min(min, cadenceMs(s) ?? Number.POSITIVE_INFINITY);
    // Three missed beats of the liveliest stream, else a missed server ping.
    return Number.isFinite(min) ? Math.max(3000, 3 * min) : this.o.limits.pingIntervalMs + 10_000;
  }

  private subscribe(c: StreamConnection, streams: readonly string[]): void {
    c.subscribe(streams).catch((err: unknown) => {
      // A lost socket is not a refusal: its replacement subscribes these streams in its URL.
      if (!(err instanceof ControlError)) return;
      // Refused together: ask for each alone, so only the stream the exchange refuses is refused.
      if (err.streams.length > 1) {
        for (const s of err.streams) if (streams.includes(s)) this.subscribe(c, [s]);
        return;
      }
      for (const s of err.streams) this.remove(s);
      this.sink.refused(err.streams, err);
    });
  }

  private async connect(shard: Shard, purpose: 'initial' | 'reconnect' | 'rotate'): Promise<void> {
    await this.o.connectPacer.take();
    if (shard.closed || shard.streams.size === 0) return;
    const streams = [...shard.streams];
    const log = this.o.logger;
    let delivered = false;
    const conn: StreamConnection = new StreamConnection(
      {
        baseUrl: this.o.baseUrl,
        streams,
        // One message per second of headroom for the pongs the library sends.
        controlPerSecond: Math.max(1, this.o.limits.messagesPerSecond - 1),
        silenceMs: this.silenceMs(streams),
        logger: log,
      },
      {
        open: () => {
          // Streams added while the socket was opening were not in its URL.
          const missing = [...shard.streams].filter((s) => !streams.includes(s));
          if (missing.length > 0) this.subscribe(conn, missing);
          if (purpose === 'rotate') {
            const t = setTimeout(() => this.finishRotation(shard, conn), this.o.settings.rotateOverlapMs);
            t.unref();
            return;
          }
          shard.current = conn;
          this.scheduleRotation(shard);
          if (purpose === 'reconnect') this.sink.resumed([...shard.streams]);
        },
        message: (stream, data, receivedAt) => {
          if (!delivered) {
            delivered = true;
            shard.attempt = 0;
          }
          this.sink.message(stream, data, receivedAt);
        },
        closed: (code, why) => this.lost(shard, conn, code, why),
        malformed: (why) => {
          this.counters.malformed += 1;
          log.warn({ connection: conn.id, why }, 'malformed frame ignored');
          this.sink.malformed(why);
        },
      },
    );
    if (purpose === 'rotate') shard.next = conn;
    else shard.current = conn;
    log.info({ connection: conn.id, market: this.o.market, streams: streams.length, purpose }, 'connecting');
    conn.open();
  }

  private retire(c: StreamConnection): void {
    this.counters.controlSent += c.controlSent;
    this.counters.maxControl = Math.max(this.counters.maxControl, c.pacer.maxInWindow);
    c.close();
  }

  private finishRotation(shard: Shard, conn: StreamConnection): void {
    if (shard.closed || shard.next !== conn || !conn.isOpen) return;
    const old = shard.current;
    shard.current = conn;
    shard.next = undefined;
    if (old) this.retire(old);
    this.counters.rotations += 1;
    this.o.logger.info({ old: old?.id, connection: conn.id }, 'connection rotated');
    this.scheduleRotation(shard);
  }

  private scheduleRotation(shard: Shard): void {
    if (shard.rotateTimer) clearTimeout(shard.rotateTimer);
    const after = this.o.settings.rotateAfterMs * (0.9 + 0.1 * this.random());
    shard.rotateTimer = setTimeout(() => {
      shard.rotateTimer = undefined;
      if (!shard.closed && !shard.next) void this.connect(shard, 'rotate');
    }, after);
    shard.rotateTimer.unref();
  }

  private lost(shard: Shard, conn: StreamConnection, code: number, why: string): void {
    this.counters.controlSent += conn.controlSent;
    this.counters.maxControl = Math.max(this.counters.maxControl, conn.pacer.maxInWindow);
    if (shard.closed) return;
    if (shard.next === conn) {
      // The replacement failed: the current socket still serves; try again later.
      shard.next = undefined;
      this.scheduleRotation(shard);
      return;
    }
    if (shard.current !== conn) return;
    shard.current = undefined;
    if (shard.next) {
      // Mid-rotation: the new socket takes over at once (it may miss nothing, or the series refill).
      const next = shard.next;
      shard.next = undefined;
      shard.current = next;
      this.scheduleRotation(shard);
      if (!next.isOpen) return;
    }
    this.counters.reconnects += 1;
    if (shard.reconnectTimer || shard.current) return;
    const cap = Math.min(this.o.settings.backoffMaxMs, this.o.settings.backoffBaseMs * 2 ** shard.attempt);
    const wait = Math.round(this.random() * cap);
    shard.attempt = Math.min(shard.attempt + 1, 20);
    this.o.logger.info({ connection: conn.id, code, why, wait_ms: wait }, 'connection lost, reconnecting');
    shard.reconnectTimer = setTimeout(() => {
      shard.reconnectTimer = undefined;
      void this.connect(shard, 'reconnect');
    }, wait);
    shard.reconnectTimer.unref();
  }

  private closeShard(shard: Shard): void {
    shard.closed = true;
    for (const t of [shard.reconnectTimer, shard.rotateTimer]) if (t) clearTimeout(t);
    if (shard.openTimer) clearImmediate(shard.openTimer);
    for (const c of [shard.current, shard.next]) if (c) this.retire(c);
    shard.current = undefined;
    shard.next = undefined;
    const i = this.shards.indexOf(shard);
    if (i >= 0) this.shards.splice(i, 1);
  }
}
