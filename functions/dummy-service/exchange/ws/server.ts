/**
 * The simulated Binance WebSocket market-stream server (binance.md §4, §6), on the same Node
 * server as the REST API: `ws` in noServer mode behind the HTTP 'upgrade' event.
 *
 * Paths: spot `/ws/<stream>[/<stream>…]` (raw), `/stream?streams=<s1>/<s2>` (combined), bare
 * `/ws` and `/stream` (then SUBSCRIBE); USD-M the same under `/usdm` (`/usdm/ws/…`,
 * `/usdm/stream?…`). A `timeUnit` parameter is accepted and ignored: times are always ms.
 * Upgrades are refused with 429 beyond `connectLimit` attempts per IP per window, 400 for an
 * unknown stream/symbol or too many streams, 404 for another path.
 *
 * One shared ticker (every `tickMs`) polls the live topics at the exchange clock and fans the
 * events out (hub.ts), pings, enforces pong timeouts and maxConnectionMs. Faults: on demand
 * (`inject`, POST /sim/ws/faults) and periodic (config `disconnectEveryMs`, `stallEveryMs`,
 * `depthBreakEveryMs`, `dropRate`).
 */
import type { IncomingMessage, Server } from 'node:http';
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Market } from '../../../../shared/contracts/common.ts';
import type { Logger } from '../../../../shared/runtime/logger.ts';
import type { ExchangeCore, WsControl } from '../exchange.ts';
import { WsSimConfig, type WsFault, type WsSimConfigInput } from './config.ts';
import { Conn } from './connection.ts';
import { handleControl } from './control.ts';
import { Hub } from './hub.ts';
import { freshWsCounters, type WsStats } from './stats.ts';
import { parseStream, type StreamSpec } from './streams.ts';

export type { WsStats } from './stats.ts';

export interface WsExchange extends WsControl {
  /** Handles the WebSocket upgrades of `server` (its 'upgrade' event). */
  attach(server: Server): void;
  /** Handles one upgrade request (for servers that route upgrades themselves). */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  inject(f: WsFault): void;
  stats(): WsStats;
  /** Clears the counters (not the connections). */
  reset(): void;
  /** Stops the ticker, closes every connection (1001) and detaches from the server. */
  close(): Promise<void>;
}

/** A client that stops reading is cut past this much unsent data. */
const MAX_BUFFERED = 64 * 1024 * 1024;
const CLOSE_WAIT_MS = 1000;

interface Route {
  market: Market;
  combined: boolean;
  names: string[];
}

/** `/[usdm/]ws[/<streams>]` or `/[usdm/]stream[?streams=…]`. */
function routeOf(url: URL): Route | undefined {
  let path = url.pathname.replace(/\/+$/, '');
  let market: Market = 'spot';
  if (path === '/usdm' || path.startsWith('/usdm/')) {
    market = 'usdm';
    path = path.slice(5);
  }
  const split = (s: string) => s.split('/').filter((n) => n.length > 0);
  if (path === '/ws') return { market, combined: false, names: [] };
  if (path.startsWith('/ws/')) return { market, combined: false, names: split(path.slice(4)) };
  if (path === '/stream')
    return { market, combined: true, names: split(url.searchParams.get('streams') ?? '') };
  return undefined;
}

function refuse(socket: Duplex, status: number, body: object): void {
  const text = JSON.stringify(body);
  socket.once('finish', () => socket.destroy());
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nConnection: close\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`,
  );
}

export function createWsExchange(ex: ExchangeCore, cfg?: WsSimConfigInput, logger?: Logger): WsExchange {
  const config = cfg === undefined ? ex.config.ws : WsSimConfig.parse(cfg);
  const log = logger ?? ex.logger;
  const wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });
  const hub = new Hub(ex.data, ex.config.seed);
  const conns = new Set<Conn>();
  const attempts = new Map<string, number[]>();
  const servers = new Set<Server>();
  let counters = freshWsCounters();
  let dropRate = config.dropRate;
  let stallUntil = 0;
  let nextConnId = 1;
  let closed = false;

  const parse = (market: Market) => (name: string) => parseStream(name, market, ex.data.has);

  /** Counts an attempt of `ip`; false when the window is full. */
  function admit(ip: string, now: number): boolean {
    const list = (attempts.get(ip) ?? []).filter((t) => t > now - config.connectWindowMs);
    attempts.set(ip, list);
    if (list.length >= config.connectLimit) return false;
    list.push(now);
    return true;
  }

  function handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const route = routeOf(new URL(req.url ?? '/', 'http://sim'));
    if (closed || !route) {
      counters.rejected++;
      return refuse(socket, closed ? 503 : 404, { code: -1, msg: closed ? 'shutting down' : 'not found' });
    }
    const ip = req.socket.remoteAddress ?? 'unknown';
    if (!admit(ip, Date.now())) {
      counters.refused++;
      return refuse(socket, 429, {
        code: -1003,
        msg: `Too many connection attempts: limit ${config.connectLimit} per ${config.connectWindowMs} ms per IP.`,
      });
    }
    const specs: StreamSpec[] = [];
    for (const name of new Set(route.names)) {
      const spec = parse(route.market)(name);
      if (typeof spec === 'string') {
        counters.rejected++;
        return refuse(socket, 400, { code: 2, msg: spec });
      }
      specs.push(spec);
    }
    const limits = config[route.market];
    if (specs.length > limits.maxStreams) {
      counters.rejected++;
      return refuse(socket, 400, {
        code: 2,
        msg: `Invalid request: too many streams (${specs.length} > ${limits.maxStreams} per connection)`,
      });
    }
    wss.handleUpgrade(req, socket, head, (ws) => open(ws, route, specs, ip));
  }

  function open(ws: WebSocket, route: Route, specs: StreamSpec[], ip: string): void {
    const conn = new Conn(
      nextConnId++,
      ws,
      route.market,
      ip,
      config[route.market],
      route.combined,
      Date.now(),
    );
    conns.add(conn);
    counters.connectionsOpened++;
    for (const spec of specs) hub.subscribe(conn, spec, ex.now());
    const ctx = {
      conn,
      parse: parse(route.market),
      subscribe: (list: StreamSpec[]) => list.forEach((s) => hub.subscribe(conn, s, ex.now())),
      unsubscribe: (names: string[]) => names.forEach((n) => hub.unsubscribe(conn, n)),
    };
    ws.on('message', (data, isBinary) => {
      if (!incoming(conn)) return;
      const text = isBinary ? '' : (data as Buffer).toString('utf8');
      reply(conn, JSON.stringify(handleControl(text, ctx)));
    });
    ws.on('ping', () => incoming(conn));
    ws.on('pong', (data) => {
      if (incoming(conn)) conn.pong(data.toString('utf8'));
    });
    ws.on('error', (err) => log?.debug({ err, conn: conn.id }, 'websocket error'));
    ws.on('close', () => {
      conns.delete(conn);
      hub.removeConn(conn);
    });
  }

  /** Counts an incoming message; closes 1008 past the per-second limit. */
  function incoming(conn: Conn): boolean {
    if (conn.closing) return false;
    const ok = conn.countIncoming(Date.now());
    counters.maxIncomingPerSecond = Math.max(counters.maxIncomingPerSecond, conn.maxPerSecond);
    if (ok) return true;
    counters.violations++;
    conn.close(1008, 'too many messages');
    return false;
  }

  function reply(conn: Conn, text: string): void {
    if (Date.now() < stallUntil) conn.deferred.push(text);
    else if (conn.send(text)) counters.replies++;
  }

  function tick(): void {
    const real = Date.now();
    const stalled = real < stallUntil;
    hub.tick(ex.now(), stalled, dropRate, counters);
    for (const conn of conns) {
      if (conn.closing) continue;
      if (real - conn.openedAt >= config.maxConnectionMs) {
        counters.maxConnectionCuts++;
        conn.close(1001, 'max connection time');
        continue;
      }
      if (conn.ws.bufferedAmount > MAX_BUFFERED) {
        counters.slowConsumers++;
        conn.terminate();
        continue;
      }
      if (stalled) continue;
      for (const text of conn.deferred.splice(0)) if (conn.send(text)) counters.replies++;
      if (conn.pongOverdue(real)) {
        counters.pongTimeouts++;
        conn.close(1001, 'pong timeout');
      } else if (real >= conn.nextPingAt) conn.ping(String(ex.now()), real);
    }
  }

  function inject(f: WsFault): void {
    if (f.dropRate !== undefined) dropRate = f.dropRate;
    if (f.depthBreak) counters.depthBreaks += hub.breakDepth();
    if (f.stallMs !== undefined) {
      stallUntil = Math.max(stallUntil, Date.now() + f.stallMs);
      counters.stalls++;
    }
    if (f.disconnect) {
      for (const conn of conns) {
        if (conn.closing) continue;
        conn.terminate();
        counters.disconnects++;
      }
    }
    log?.info({ fault: f, connections: conns.size }, 'websocket fault injected');
  }

  const timers = [setInterval(tick, config.tickMs)];
  const every = (ms: number, f: WsFault) => ms > 0 && timers.push(setInterval(() => inject(f), ms));
  every(config.disconnectEveryMs, { disconnect: true });
  every(config.stallEveryMs, { stallMs: config.stallMs });
  every(config.depthBreakEveryMs, { depthBreak: true });
  // Forget idle IPs now and then so the attempts map stays small.
  timers.push(
    setInterval(() => {
      const now = Date.now();
      for (const [ip, list] of attempts)
        if (list.every((t) => t <= now - config.connectWindowMs)) attempts.delete(ip);
    }, 60_000),
  );
  for (const t of timers) t.unref();

  const self: WsExchange = {
    attach(server) {
      servers.add(server);
      server.on('upgrade', handleUpgrade);
    },
    handleUpgrade,
    inject,
    stats(): WsStats {
      const real = Date.now();
      return {
        ...counters,
        sent: { ...counters.sent },
        connectionsOpen: conns.size,
        topics: hub.size,
        stalled: real < stallUntil,
        dropRate,
        connections: [...conns].map((c) => ({
          id: c.id,
          market: c.market,
          ip: c.ip,
          streams: [...c.streams.keys()],
          combined: c.combined,
          ageMs: real - c.openedAt,
          maxIncomingPerSecond: c.maxPerSecond,
        })),
      };
    },
    reset() {
      counters = freshWsCounters();
      for (const c of conns) c.maxPerSecond = 0;
    },
    async close() {
      if (closed) return;
      closed = true;
      for (const t of timers) clearInterval(t);
      for (const s of servers) s.off('upgrade', handleUpgrade);
      if (ex.ws.current === self) ex.ws.current = undefined;
      for (const c of conns) c.close(1001, 'server shutdown');
      const deadline = Date.now() + CLOSE_WAIT_MS;
      while (conns.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      for (const c of conns) c.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
  ex.ws.current = self;
  return self;
}
