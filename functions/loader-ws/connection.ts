/**
 * One WebSocket to the exchange's combined-stream endpoint (`<base>/stream?streams=a/b`, frames
 * `{"stream","data"}`: docs/binance.md §4). The streams it starts with travel in the URL, so
 * opening, reconnecting and rotating cost no control messages; later additions go out as paced
 * SUBSCRIBE/UNSUBSCRIBE requests whose replies are matched by id. Pings are answered with pongs
 * by the `ws` library (the pacer leaves one message per second of headroom for them). A socket
 * silent longer than `silenceMs` — no data and no ping — is terminated: the pool replaces it.
 */
import WebSocket from 'ws';
import type { Logger } from '../../shared/runtime/logger.ts';
import { Pacer } from './pacer.ts';

export interface ConnectionEvents {
  /** The socket is open (the URL's streams are subscribed). */
  open(): void;
  message(stream: string, data: unknown, receivedAt: number): void;
  /** The socket is gone; `why` says who ended it. Never called after `close()`. */
  closed(code: number, why: string): void;
  /** A frame that is neither a stream frame nor a control reply. */
  malformed(why: string): void;
}

export interface ConnectionOptions {
  baseUrl: string;
  streams: readonly string[];
  /** JSON control messages per second (the exchange's limit minus headroom for pongs). */
  controlPerSecond: number;
  silenceMs: number;
  logger: Logger;
  /** Streams per control message. */
  paramsPerMessage?: number;
}

export class ControlError extends Error {
  constructor(
    readonly code: number | string,
    readonly exchangeMessage: string,
    readonly streams: readonly string[],
  ) {
    super(`${code} ${exchangeMessage}`);
    this.name = 'ControlError';
  }
}

interface Pending {
  resolve: () => void;
  reject: (e: Error) => void;
  streams: readonly string[];
}

let nextConnectionId = 1;

export class StreamConnection {
  readonly id = nextConnectionId++;
  readonly pacer: Pacer;
  openedAt = 0;
  lastFrameAt = 0;
  /** Control messages sent (SUBSCRIBE, UNSUBSCRIBE). */
  controlSent = 0;
  private ws: WebSocket | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextRequestId = 1;
  private silenceTimer: NodeJS.Timeout | undefined;
  private ended = false;

  constructor(
    private readonly o: ConnectionOptions,
    private readonly on: ConnectionEvents,
  ) {
    this.pacer = new Pacer(o.controlPerSecond, 1000);
  }

  get isOpen(): boolean {
    return this.ws?.readyState === WebSocket.OPEN;
  }

  open(): void {
    const url =
      this.o.streams.length > 0
        ? `${this.o.baseUrl}/stream?streams=${this.o.streams.join('/')}`
        : `${this.o.baseUrl}/stream`;
    const ws = new WebSocket(url, { perMessageDeflate: false, handshakeTimeout: 10_000 });
    this.ws = ws;
    this.lastFrameAt = performance.now();
    ws.on('open', () => {
      this.openedAt = Date.now();
      this.lastFrameAt = performance.now();
      this.watchSilence();
      this.on.open();
    });
    ws.on('ping', () => {
      this.lastFrameAt = performance.now();
    });
    ws.on('message', (raw: WebSocket.RawData, isBinary: boolean) => {
      const receivedAt = Date.now();
      this.lastFrameAt = performance.now();
      this.frame(
        isBinary
          ? null
          : Buffer.isBuffer(raw)
            ? raw.toString('utf8')
            : Buffer.concat(raw as Buffer[]).toString('utf8'),
        receivedAt,
      );
    });
    ws.on('error', (err) => {
      // 'close' follows; the reason is logged there.
      this.o.logger.debug({ err, connection: this.id }, 'websocket error');
      this.errorText = err.message;
    });
    ws.on('close', (code, reason) =>
      this.end(code, reason.toString() || this.errorText || 'closed by the exchange'),
    );
  }

  private errorText: string | undefined;

  subscribe(streams: readonly string[]): Promise<void> {
    return this.control('SUBSCRIBE', streams);
  }

  unsubscribe(streams: readonly string[]): Promise<void> {
    return this.control('UNSUBSCRIBE', streams);
  }

  /** Clean close (rotation, last stream gone, shutdown): no `closed` callback. */
  close(): void {
    this.ended = true;
    this.cleanup(new Error('connection closed'));
    const ws = this.ws;
    if (!ws) return;
    if (ws.readyState === WebSocket.CONNECTING) ws.terminate();
    else ws.close(1000, 'bye');
    // A peer that never answers the close frame must not hold the socket.
    setTimeout(() => ws.terminate(), 2000).unref();
  }

  /** Drops the socket without a close handshake (silence), reported as closed. */
  terminate(why: string): void {
    this.ws?.terminate();
    this.end(1006, why);
  }

  /**
   * Streams wait in one queue and go out together: each pacer slot sends every queued stream of
   * the method at the head (up to `paramsPerMessage`) in one message, so a hundred workflows
   * starting at once cost one or two SUBSCRIBEs, not a hundred (and never more than the limit).
   */
  private control(method: 'SUBSCRIBE' | 'UNSUBSCRIBE', streams: readonly string[]): Promise<void> {
    const per = this.o.paramsPerMessage ?? 200;
    return Promise.all(
      streams.map(
        (stream) =>
          new Promise<void>((resolve, reject) => {
            this.queued.push({ method, stream, resolve, reject });
            if ((this.queued.length - 1) % per === 0) this.pacer.run(() => this.sendQueued());
          }),
      ),
    ).then(() => undefined);
  }

  private readonly queued: Array<{
    method: 'SUBSCRIBE' | 'UNSUBSCRIBE';
    stream: string;
    resolve: () => void;
    reject: (e: Error) => void;
  }> = [];

  private sendQueued(): void {
    const head = this.queued[0];
    if (!head) return;
    const per = this.o.paramsPerMessage ?? 200;
    let n = 0;
    while (n < this.queued.length && n < per && this.queued[n]!.method === head.method) n++;
    const items = this.queued.splice(0, n);
    // What is left needs a slot of its own.
    if (this.queued.length > 0) this.pacer.run(() => this.sendQueued());
    const ws = this.ws;
    if (this.ended || !ws || ws.readyState !== WebSocket.OPEN) {
      for (const i of items) i.reject(new Error('connection not open'));
      return;
    }
    const id = this.nextRequestId++;
    const params = items.map((i) => i.stream);
    this.pending.set(id, {
      resolve: () => items.forEach((i) => i.resolve()),
      reject: (e) => items.forEach((i) => i.reject(e)),
      streams: params,
    });
    this.controlSent += 1;
    ws.send(JSON.stringify({ method: head.method, params, id }));
  }

  private frame(text: string | null, receivedAt: number): void {
    if (text === null) return this.on.malformed('binary frame');
    let msg: unknown;
    try {
      msg = JSON.parse(text);
    } catch {
      return this.on.malformed(`not JSON: ${text.slice(0, 80)}`);
    }
    if (msg === null || typeof msg !== 'object') return this.on.malformed('not an object');
    const m = msg as { stream?: unknown; data?: unknown; id?: unknown; result?: unknown; error?: unknown };
    if (typeof m.stream === 'string' && m.data !== undefined)
      return this.on.message(m.stream, m.data, receivedAt);
    if (typeof m.id === 'number' && this.pending.has(m.id)) {
      const p = this.pending.get(m.id)!;
      this.pending.delete(m.id);
      if (m.error !== undefined && m.error !== null) {
        const e = m.error as { code?: unknown; msg?: unknown };
        p.reject(
          new ControlError(
            typeof e.code === 'number' ? e.code : 'WS_ERROR',
            typeof e.msg === 'string' ? e.msg : JSON.stringify(m.error),
            p.streams,
          ),
        );
      } else p.resolve();
      return;
    }
    this.on.malformed(`unexpected frame: ${text.slice(0, 80)}`);
  }

  private watchSilence(): void {
    if (this.o.silenceMs <= 0) return;
    const check = Math.max(50, Math.floor(this.o.silenceMs / 4));
    this.silenceTimer = setInterval(() => {
      if (performance.now() - this.lastFrameAt > this.o.silenceMs)
        this.terminate(`silent for more than ${this.o.silenceMs} ms`);
    }, check);
    this.silenceTimer.unref();
  }

  private cleanup(err: Error): void {
    if (this.silenceTimer) clearInterval(this.silenceTimer);
    this.silenceTimer = undefined;
    this.pacer.clear();
    for (const q of this.queued.splice(0)) q.reject(err);
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }

  private end(code: number, why: string): void {
    if (this.ended) return;
    this.ended = true;
    this.cleanup(new Error(`connection lost: ${why}`));
    this.on.closed(code, why);
  }
}
