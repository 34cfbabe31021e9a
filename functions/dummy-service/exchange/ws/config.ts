/**
 * Options of the simulated WebSocket market-stream server (server.ts): Binance's limits and
 * heartbeat per market (binance.md §4, §6), and the periodic faults. Part of ExchangeConfig
 * (`ws`), filled from SIM_WS_* by sim-env.ts. `WsFault` is one on-demand fault
 * (`inject()`, POST /sim/ws/faults).
 */
import { z } from 'zod';

const ms = () => z.number().int().nonnegative();

/** Per-market limits; defaults are Binance's (spot: binance.md §4, USD-M: §6). */
const marketLimits = (d: { ping: number; pong: number; streams: number; perSecond: number }) =>
  z
    .object({
      /** Server ping every this long. */
      pingIntervalMs: z.number().int().positive().default(d.ping),
      /** No pong echoing a ping within this long → the connection is closed (1001 "pong timeout"). */
      pongTimeoutMs: z.number().int().positive().default(d.pong),
      /** Streams per connection (URL or SUBSCRIBE). */
      maxStreams: z.number().int().positive().default(d.streams),
      /** Incoming messages (JSON, ping, pong) per connection in any 1 s; more → close 1008. */
      maxIncomingPerSecond: z.number().int().positive().default(d.perSecond),
    })
    .prefault({});

export const WsSimConfig = z
  .object({
    spot: marketLimits({ ping: 20_000, pong: 60_000, streams: 1024, perSecond: 5 }),
    usdm: marketLimits({ ping: 180_000, pong: 600_000, streams: 200, perSecond: 10 }),
    /** Connection attempts per IP per `connectWindowMs`; beyond → HTTP 429 on the upgrade. */
    connectLimit: z.number().int().positive().default(300),
    connectWindowMs: z.number().int().positive().default(300_000),
    /** Every connection is closed (1001) after this long. */
    maxConnectionMs: z.number().int().positive().default(86_400_000),
    /** How often the shared ticker sends what happened (trades are sent when their time ≤ now). */
    tickMs: z.number().int().min(5).max(1000).default(25),
    /** Periodic faults (0 = off): drop every socket (client sees 1006) … */
    disconnectEveryMs: ms().default(0),
    /** … go silent for stallMs (events of the stall are lost) … */
    stallEveryMs: ms().default(0),
    stallMs: ms().default(2000),
    /** … skip one diff on every depth stream. */
    depthBreakEveryMs: ms().default(0),
    /** Fraction of trade/aggTrade/depth messages dropped (by seed and event id). */
    dropRate: z.number().min(0).max(1).default(0),
  })
  .prefault({});
export type WsSimConfig = z.output<typeof WsSimConfig>;
export type WsSimConfigInput = z.input<typeof WsSimConfig>;

/** One on-demand fault; several fields = several faults at once. */
export const WsFault = z
  .object({
    /** Terminate every socket without a close frame. */
    disconnect: z.boolean().optional(),
    /** Send nothing on any socket for this long; what happens meanwhile is never sent. */
    stallMs: z.number().int().positive().max(3_600_000).optional(),
    /** From now on drop this fraction of trade/aggTrade/depth messages. */
    dropRate: z.number().min(0).max(1).optional(),
    /** Skip the next diff of every depth stream once. */
    depthBreak: z.boolean().optional(),
  })
  .strict();
export type WsFault = z.output<typeof WsFault>;
