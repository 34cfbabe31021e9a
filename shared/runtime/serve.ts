/**
 * Serves a fetch-style app on Node's HTTP server and shuts it down gracefully (DESIGN.md
 * "Cross-cutting rules": SIGTERM drains in-flight work before exit). Knative sends SIGTERM and
 * keeps routing to the pod for a moment; we stop accepting connections, let the requests already
 * in progress finish (up to `graceMs`), close the adapters, then exit.
 */
import type { AddressInfo } from 'node:net';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import {
  createAdaptorServer,
  type HttpBindings,
  type Http2Bindings,
  type WebSocketServerLike,
} from '@hono/node-server';
import type { Logger } from './logger.ts';

export interface ServeOptions {
  /** 0 = any free port (the chosen one is returned). */
  port: number;
  logger: Logger;
  /** Default: `HOST` from the environment, else 0.0.0.0. */
  host?: string;
  /** How long to wait for in-flight requests after shutdown starts; default 10000. */
  graceMs?: number;
  /** Runs after the requests drained (or the grace ran out): close the bus, the store... */
  onShutdown?: () => Promise<void>;
  /** Called when shutdown starts, e.g. `FunctionApp.drain` so /readyz turns 503. */
  onDrain?: () => void;
  /** Install SIGTERM/SIGINT handlers that shut down and exit the process; default true. Tests pass false. */
  handleSignals?: boolean;
  /** A `ws` server in noServer mode, for apps that upgrade connections to WebSocket. */
  websocket?: { server: WebSocketServerLike };
}

export interface Served {
  port: number;
  /** Base URL, e.g. `http://127.0.0.1:8080`. */
  url: string;
  /** The underlying Node server (for WebSocket upgrades and tests). */
  server: Server;
  /** Stops accepting, drains in-flight requests up to `graceMs`, runs `onShutdown`. Idempotent. */
  close(): Promise<void>;
  /** Requests being handled right now. */
  inFlight: () => number;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Starts the server and resolves once it listens. */
export async function serve(
  app: { fetch: (req: Request, env?: HttpBindings | Http2Bindings) => Response | Promise<Response> },
  opts: ServeOptions,
): Promise<Served> {
  const log = opts.logger;
  // The one environment read outside a main.ts: the agreed runtime contract names HOST.
  const host = opts.host ?? process.env['HOST'] ?? '0.0.0.0';
  const graceMs = opts.graceMs ?? 10_000;
  const server = createAdaptorServer({
    // Node's bindings (incoming socket) reach the app: the simulator reads the client address
    // for per-IP weight and destroys the socket to inject connection resets.
    fetch: (req: Request, env: HttpBindings | Http2Bindings) => app.fetch(req, env),
    ...(opts.websocket ? { websocket: opts.websocket } : {}),
  }) as Server;

  // Counted at the socket level rather than in the app, so a response still streaming its
  // body counts as in flight too.
  let inFlight = 0;
  server.on('request', (_req: IncomingMessage, res: ServerResponse) => {
    inFlight += 1;
    res.once('close', () => {
      inFlight -= 1;
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://${host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host}:${port}`;

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= shutdown();
    return closing;
  };

  async function shutdown(): Promise<void> {
    log.info({ in_flight: inFlight, grace_ms: graceMs }, 'shutting down: draining in-flight requests');
    opts.onDrain?.();
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    // Keep-alive connections with nothing in flight would hold close() open: end them now.
    server.closeIdleConnections();
    const deadline = Date.now() + graceMs;
    while (inFlight > 0 && Date.now() < deadline) await sleep(25);
    if (inFlight > 0) log.warn({ in_flight: inFlight }, 'grace period over: cutting remaining requests');
    server.closeAllConnections();
    await closed;
    removeSignalHandlers();
    if (opts.onShutdown) await opts.onShutdown();
    log.info('shut down');
  }

  let signalled = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (signalled) {
      log.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    signalled = true;
    log.info({ signal }, 'signal received');
    close().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  const handleSignals = opts.handleSignals ?? true;
  if (handleSignals) {
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  }
  function removeSignalHandlers(): void {
    if (!handleSignals) return;
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
  }

  log.info({ url, port }, 'listening');
  return { port, url, server, close, inFlight: () => inFlight };
}
