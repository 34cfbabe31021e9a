/**
 * loader-ws beyond the happy path: a process that shuts down mid-stream and a new one on the same
 * store resume the workflow from its checkpoint with every aggTrade once; against a hand-written
 * server, a SUBSCRIBE the exchange refuses ends that workflow in error with the exchange's message
 * while the others on the connection keep streaming, and malformed frames are counted, not fatal.
 */
import type { AddressInfo } from 'node:net';
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocketServer, type WebSocket } from 'ws';
import { Topics } from '../../shared/contracts/events.ts';
import { createSqliteStore } from '../../shared/store/sqlite-store.ts';
import { startWs, type WsRunning } from '../exchange/ws-helpers.ts';
import { collect, memoryBus, until } from '../loader-api/helpers.ts';
import { commandEvent, liveCommand, liveLoader } from './helpers.ts';

let sim: WsRunning;
beforeAll(async () => {
  sim = await startWs();
});
afterAll(() => sim.close());

describe('loader-ws restarts', () => {
  it('a new process resumes a live workflow from its checkpoint: every aggTrade of [start, end) once', async () => {
    const bus = memoryBus();
    const got = await collect(bus, Topics.data('agg_trade'));
    const store = createSqliteStore({ path: ':memory:' });
    const start = Date.now();
    const end = start + 5000;
    const cmd = liveCommand('ws_agg_trades', { start, end });
    const first = liveLoader(sim, bus, store);
    await first.start();
    await first.handleEvent(commandEvent(cmd));
    await until(() => got.batches.length > 3, 10_000);
    await first.stop(); // SIGTERM: publish what it holds, keep the workflow registered
    expect(got.events.some((e) => e.message === 'loader finished')).toBe(false);
    await new Promise((r) => setTimeout(r, 800)); // trades happen while nobody listens
    const second = liveLoader(sim, bus, store);
    await second.start(); // resumes from the registry and the checkpoint
    expect(second.workflows().map((w) => w.command.queue_id)).toEqual([cmd.queue_id]);
    await until(
      () => got.events.some((e) => e.message === 'loader finished' || e.status === 'error'),
      20_000,
    );
    expect(got.events.at(-1)?.message).toBe('loader finished');
    const ids = got.batches.flatMap((b) => b.rows.map((r) => (r as number[])[0]!));
    expect(new Set(ids).size).toBe(ids.length);
    const sorted = [...ids].sort((a, b) => a - b);
    expect(sorted.at(-1)! - sorted[0]! + 1).toBe(ids.length);
    const firstRest = await sim.json<Array<{ a: number }>>(
      `/api/v3/aggTrades?symbol=BTCUSDT&startTime=${start}&limit=1`,
    );
    expect(sorted[0]).toBe(firstRest[0]!.a);
    // Batch seqs continue across the restart: 0..N-1, each once.
    const seqs = got.batches.map((b) => b.seq).sort((a, b) => a - b);
    expect(seqs).toEqual(seqs.map((_, i) => i));
    expect(got.events.at(-1)?.batches_published).toBe(seqs.length);
    await second.stop();
    await got.close();
    await store.close();
  }, 30_000);
});

describe('loader-ws against a server that refuses and garbles', () => {
  let server: Server;
  let wss: WebSocketServer;
  let wsUrl: string;
  beforeAll(async () => {
    server = createServer();
    wss = new WebSocketServer({ server });
    wss.on('connection', (sock: WebSocket) => {
      sock.send('not json at all');
      sock.send(JSON.stringify({ hello: 'world' }));
      sock.on('message', (raw: Buffer) => {
        const m = JSON.parse(raw.toString()) as { method: string; params: string[]; id: number };
        if (m.method === 'SUBSCRIBE' && m.params.some((p) => p.startsWith('ethusdt')))
          sock.send(
            JSON.stringify({ error: { code: 2, msg: 'Invalid request: stream not permitted' }, id: m.id }),
          );
        else sock.send(JSON.stringify({ result: null, id: m.id }));
      });
      const t = setInterval(() => {
        const now = Date.now();
        sock.send(
          JSON.stringify({
            stream: 'btcusdt@bookTicker',
            data: {
              u: now,
              s: 'BTCUSDT',
              b: '1.00000000',
              B: '2.00000000',
              a: '1.10000000',
              A: '3.00000000',
            },
          }),
        );
      }, 20);
      sock.on('close', () => clearInterval(t));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    wsUrl = `ws://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    for (const c of wss.clients) c.terminate();
    await new Promise((r) => wss.close(r));
    await new Promise((r) => server.close(r));
  });

  it('reports the refused SUBSCRIBE on its workflow and keeps the other stream; malformed frames are counted', async () => {
    const bus = memoryBus();
    const got = await collect(bus, Topics.data('book_ticker'));
    const store = createSqliteStore({ path: ':memory:' });
    // REST (symbol checks) from the simulator; streams from the hand-written server.
    const loader = liveLoader({ url: sim.url, wsUrl }, bus, store);
    await loader.start();
    const good = liveCommand('ws_book_ticker');
    await loader.handleEvent(commandEvent(good));
    await until(() => got.batches.length > 0, 10_000);
    const bad = liveCommand('ws_book_ticker', { symbol: 'ETHUSDT' });
    await loader.handleEvent(commandEvent(bad));
    await until(() => got.events.some((e) => e.queue_id === bad.queue_id && e.status === 'error'), 10_000);
    const err = got.events.find((e) => e.queue_id === bad.queue_id && e.status === 'error')!;
    expect(err.error).toMatchObject({ code: 2, message: 'Invalid request: stream not permitted' });
    const before = got.batches.length;
    await until(() => got.batches.length > before + 2, 10_000);
    expect(loader.stats().pools.spot.malformed).toBeGreaterThanOrEqual(2);
    expect(loader.stats().pools.spot.connections).toBe(1);
    await loader.stop();
    await got.close();
    await store.close();
  }, 20_000);
});
