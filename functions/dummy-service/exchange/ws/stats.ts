/**
 * Counters of the WebSocket server, served by GET /sim/ws/stats and cleared by
 * POST /sim/ws/reset: what was sent per stream kind, refused, cut and injected, and the most
 * incoming messages any connection sent in 1 s (so a test can prove a client kept to the limit).
 */
import type { Market } from '../../../../shared/contracts/common.ts';
import { STREAM_KINDS, type StreamKind } from './streams.ts';

export interface WsCounters {
  connectionsOpened: number;
  /** Upgrades answered 429 (connection attempts per IP). */
  refused: number;
  /** Upgrades answered 400/404 (bad path, unknown stream, too many streams). */
  rejected: number;
  sent: Record<StreamKind, number>;
  /** Control replies (SUBSCRIBE…). */
  replies: number;
  /** Sockets cut by the disconnect fault. */
  disconnects: number;
  stalls: number;
  /** Messages not sent by the drop fault (per recipient). */
  dropped: number;
  /** Depth diffs skipped by the depthBreak fault (per stream). */
  depthBreaks: number;
  /** Connections closed 1008 for sending too many messages. */
  violations: number;
  pongTimeouts: number;
  /** Connections closed at maxConnectionMs. */
  maxConnectionCuts: number;
  /** Connections cut because they did not read (over 64 MB buffered). */
  slowConsumers: number;
  /** Most incoming messages in any 1 s on any connection. */
  maxIncomingPerSecond: number;
}

export const freshWsCounters = (): WsCounters => ({
  connectionsOpened: 0,
  refused: 0,
  rejected: 0,
  sent: Object.fromEntries(STREAM_KINDS.map((k) => [k, 0])) as Record<StreamKind, number>,
  replies: 0,
  disconnects: 0,
  stalls: 0,
  dropped: 0,
  depthBreaks: 0,
  violations: 0,
  pongTimeouts: 0,
  maxConnectionCuts: 0,
  slowConsumers: 0,
  maxIncomingPerSecond: 0,
});

export interface WsConnectionStats {
  id: number;
  market: Market;
  ip: string;
  streams: string[];
  combined: boolean;
  ageMs: number;
  maxIncomingPerSecond: number;
}

export interface WsStats extends WsCounters {
  connectionsOpen: number;
  /** Live topics (distinct streams with at least one subscriber). */
  topics: number;
  stalled: boolean;
  dropRate: number;
  connections: WsConnectionStats[];
}
