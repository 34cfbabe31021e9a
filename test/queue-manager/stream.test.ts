/**
 * GET /stream/workflows (functions/queue-manager/ui-routes.ts): the status page's event stream.
 * `ready` first; then every workflow change — created, folded queue-event, cancelled — arrives as
 * a `workflow` event with the workflow minus its timeline plus its last entry; heartbeats when
 * quiet; the reads token when the manager requires it; the stream ends when the manager stops.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { BODY, queueEvent, startManager, tempDir, type TestManager } from './helpers.ts';
import path from 'node:path';
import type { Workflow } from '../../shared/contracts/workflow.ts';

interface Sse {
  event: string;
  data?: unknown;
  comment?: string;
}

/** Reads SSE blocks off a response body as they come. */
function reader(res: Response): { next(): Promise<Sse | undefined>; cancel(): Promise<void> } {
  const r = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  return {
    cancel: () => r.cancel(),
    async next() {
      for (;;) {
        const cut = buffer.indexOf('\n\n');
        if (cut >= 0) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          if (block.startsWith(':')) return { event: 'comment', comment: block.slice(1).trim() };
          const event = /^event: ?(.*)$/m.exec(block)?.[1] ?? 'message';
          const data = /^data: ?(.*)$/m.exec(block)?.[1];
          return { event, data: data === undefined ? undefined : JSON.parse(data) };
        }
        const { value, done } = await r.read();
        if (done) return undefined;
        buffer += value;
      }
    },
  };
}

describe('GET /stream/workflows', () => {
  let m: TestManager | undefined;
  let cleanup = () => {};
  afterEach(async () => {
    await m?.close();
    m = undefined;
    cleanup();
  });
  const start = async (settings = {}) => {
    const t = tempDir();
    cleanup = t.cleanup;
    m = await startManager({ sqlitePath: path.join(t.dir, 'm.sqlite'), settings });
    return m;
  };

  it('sends ready, then every change of a workflow as it is written', async () => {
    const m = await start();
    const res = await m.request('/stream/workflows');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const sse = reader(res);
    expect(await sse.next()).toEqual({ event: 'ready', data: { heartbeat_ms: 15_000 } });

    const wf = (await (await m.request('/workflows', { method: 'POST', body: BODY })).json()) as Workflow;
    const created = (await sse.next())!;
    expect(created.event).toBe('workflow');
    expect(created.data).toMatchObject({ queue_id: wf.queue_id, status: 'pending' });
    expect(created.data).not.toHaveProperty('timeline');

    // A loader's progress, folded from the bus, is pushed with its timeline entry.
    await m.bus.publish('queue-events', [
      {
        key: wf.symbol,
        event: queueEvent(wf, { status: 'loading', records_written: 1234, message: 'page 3 of 9', seq: 0 }),
      },
    ]);
    let seen: Sse | undefined;
    do seen = await sse.next();
    while ((seen?.data as { status?: string } | undefined)?.status !== 'loading');
    expect(seen!.data).toMatchObject({
      queue_id: wf.queue_id,
      status: 'loading',
      records_written: 1234,
      last: { producer: 'loader-api', message: 'page 3 of 9' },
    });
    await m.request(`/workflows/${wf.queue_id}/cancel`, { method: 'POST' });
    do seen = await sse.next();
    while ((seen?.data as { status?: string } | undefined)?.status !== 'cancelled');
    expect(seen!.data).toMatchObject({ queue_id: wf.queue_id, status: 'cancelled' });
  });

  it('sends a heartbeat comment when nothing changes, and ends when the manager stops', async () => {
    const m = await start({ heartbeatMs: 50 });
    const sse = reader(await m.request('/stream/workflows'));
    expect((await sse.next())!.event).toBe('ready');
    expect(await sse.next()).toEqual({ event: 'comment', comment: 'ping' });
    expect(m.manager.feed.size()).toBe(1);
    await m.manager.stop();
    // Drained to the end: the stream closes instead of holding the server open.
    let last: Sse | undefined;
    do last = await sse.next();
    while (last !== undefined);
    expect(m.manager.feed.size()).toBe(0);
  });

  it('needs the token when reads need it', async () => {
    const m = await start({ apiToken: 'sekret', apiTokenReads: true });
    expect((await m.request('/stream/workflows')).status).toBe(401);
    expect((await m.request('/stream/workflows', { token: 'wrong' })).status).toBe(401);
    const res = await m.request('/stream/workflows', { token: 'sekret' });
    expect(res.status).toBe(200);
    const sse = reader(res);
    expect((await sse.next())!.event).toBe('ready');
    await sse.cancel();
    // The page itself holds no data: served without a token.
    const page = await m.request('/ui');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toContain("default-src 'self'");
    expect(await page.text()).toContain('/ui/vendor/lightweight-charts.js');
    const lib = await m.request('/ui/vendor/lightweight-charts.js');
    expect(lib.status).toBe(200);
    expect((await lib.text()).length).toBeGreaterThan(100_000);
  });
});
