/**
 * The `streamforge` CLI as a user runs it: `node bin/streamforge.mjs ...` as a child process
 * against a real manager served on 127.0.0.1 (memory bus, SQLite temp file, fake job launcher).
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Workflow } from '../../shared/contracts/workflow.ts';
import { serve, type Served } from '../../shared/runtime/serve.ts';
import {
  BODY,
  logger,
  queueEvent,
  startManager,
  tempDir,
  type TestManager,
} from '../queue-manager/helpers.ts';
import { runBinary, runInProcess, type Run } from './run.ts';

const TOKEN = 'cli-test-token';
const tmp = tempDir();

let m: TestManager;
let served: Served;

beforeAll(async () => {
  m = await startManager({ sqlitePath: path.join(tmp.dir, 'cli.sqlite'), settings: { apiToken: TOKEN } });
  served = await serve(m.manager.app, { port: 0, host: '127.0.0.1', logger, handleSignals: false });
});

afterAll(async () => {
  await served.close();
  await m.close();
  tmp.cleanup();
});

function cli(args: string[], env: Record<string, string> = { STREAMFORGE_TOKEN: TOKEN }): Promise<Run> {
  return runBinary(args, { STREAMFORGE_URL: served.url, ...env });
}

async function create(symbol: string): Promise<Workflow> {
  const res = await m.request('/workflows', { method: 'POST', body: { ...BODY, symbol }, token: TOKEN });
  return (await res.json()) as Workflow;
}

/** The CLI in-process (same code as the binary), for the cases that need no real process. */
function inProcess(
  args: string[],
  env: Record<string, string> = { STREAMFORGE_TOKEN: TOKEN },
  tty = false,
): Promise<Run> {
  return runInProcess(args, { STREAMFORGE_URL: served.url, ...env }, tty);
}

describe('streamforge binary', () => {
  it('submit --json, list, and watch exiting 0 for completed (and 9 for error, in-process)', async () => {
    const good = await create('BNBUSDT');
    const bad = await create('XRPUSDT');
    const runs = Promise.all([
      cli([
        '--json',
        'submit',
        '--symbol',
        'BTCUSDT',
        '--type',
        'api_candles_5m',
        '--range',
        '2024-08-01:2024-08-02',
      ]),
      cli(['list']),
      cli(['watch', good.queue_id, '--interval', '50']),
      inProcess(['watch', bad.queue_id, '--interval', '50']),
    ]);
    await new Promise((r) => setTimeout(r, 500));
    for (const e of [
      queueEvent(good, { status: 'started', seq: 0 }),
      queueEvent(good, { status: 'loading', seq: 1, progress: { pages: 1, percent: 50 } }),
      queueEvent(good, {
        producer: 'arango-connector',
        status: 'completed',
        finished: true,
        records_written: 288,
      }),
      queueEvent(bad, {
        status: 'error',
        finished: true,
        error: { code: -1121, message: 'Invalid symbol.' },
      }),
    ]) {
      await m.manager.handleEvent(e);
    }
    const [submitted, listed, ok, failed] = await runs;

    expect(submitted.stderr).toBe('');
    expect(submitted.code).toBe(0);
    const wf = JSON.parse(submitted.stdout) as Workflow;
    expect(wf).toMatchObject({ symbol: 'BTCUSDT', status: 'pending', type: 'api_candles_5m' });
    expect((await m.manager.service.get(wf.queue_id)).symbol).toBe('BTCUSDT');

    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(/^QUEUE_ID\s+STATUS/);
    expect(listed.stdout).toContain(good.queue_id);

    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain(`completed ${good.queue_id}: 288 records`);
    expect(failed.code).toBe(9);
    expect(failed.stdout).toContain(`error ${bad.queue_id}: -1121 Invalid symbol.`);
  });
});

describe('streamforge commands', () => {
  it('bad input exits 3 and prints the issues; a missing token exits 4; an unknown id 5', async () => {
    const submit = (symbol: string, range: string) =>
      inProcess(['submit', '--symbol', symbol, '--type', 'api_candles_5m', '--range', range]);
    const badSymbol = await submit('btc', '2024-08-01:2024-08-02');
    expect(badSymbol.code).toBe(3);
    expect(badSymbol.stderr).toMatch(/HTTP 400/);
    expect(badSymbol.stderr).toMatch(/symbol: symbol must match/);
    const reversed = await submit('BTCUSDT', '2024-08-02:2024-08-01');
    expect(reversed.code).toBe(3);
    expect(reversed.stderr).toMatch(/time_range: range is reversed/);
    const denied = await inProcess(['cancel', 'wf-btcusdt-api_trades-20240801-000000'], {});
    expect(denied.code).toBe(4);
    expect(denied.stderr).toMatch(/HTTP 401/);
    expect((await inProcess(['get', 'wf-btcusdt-api_trades-20240801-000000'])).code).toBe(5);
  });

  it('list --json filters; get shows the timeline; cancel and retry change the workflow', async () => {
    const wf = await create('ETHUSDT');
    const page = JSON.parse((await inProcess(['--json', 'list', '--symbol', 'ETHUSDT'])).stdout) as {
      items: Workflow[];
    };
    expect(page.items.map((w) => w.queue_id)).toEqual([wf.queue_id]);
    const cancelled = await inProcess(['cancel', wf.queue_id]);
    expect(cancelled).toMatchObject({ code: 0, stdout: `cancelled ${wf.queue_id}  cancelled  attempt 1\n` });
    const again = await inProcess(['cancel', wf.queue_id]);
    expect(again.code).toBe(6);
    expect(again.stderr).toMatch(/HTTP 409/);
    expect((await inProcess(['retry', wf.queue_id])).stdout).toContain('pending  attempt 2');
    const shown = await inProcess(['get', wf.queue_id]);
    expect(shown.stdout).toMatch(/status\s+pending \(attempt 2\)/);
    expect(shown.stdout).toMatch(/queue-manager\s+cancelled\s+cancelled by request/);
  });

  it('submit --watch with several symbols exits 9 when one of them fails', async () => {
    const run = inProcess([
      'submit',
      '--symbols',
      'ADAUSDT,DOTUSDT',
      '--type',
      'api_trades',
      '--start',
      '2024-08-01T00:00:00Z',
      '--end',
      '2024-08-01T01:00:00Z',
      '--watch',
      '--interval',
      '20',
    ]);
    const ids = async () =>
      (await m.manager.service.list({ type: 'api_trades', limit: 10, offset: 0 })).items;
    let wfs: Workflow[] = [];
    while (wfs.length < 2) {
      await new Promise((r) => setTimeout(r, 20));
      wfs = await ids();
    }
    const [a, b] = wfs as [Workflow, Workflow];
    await m.manager.handleEvent(
      queueEvent(a, { producer: 'arango-connector', status: 'completed', finished: true }),
    );
    await m.manager.handleEvent(queueEvent(b, { status: 'cancelled', finished: true }));
    const out = await run;
    expect(out.code).toBe(9);
    expect(out.stdout).toContain(`completed ${a.queue_id}`);
    expect(out.stdout).toContain(`cancelled ${b.queue_id}`);
  });

  it('watch on a terminal draws a progress bar', async () => {
    const wf = await create('LTCUSDT');
    await m.manager.handleEvent(
      queueEvent(wf, { status: 'loading', seq: 1, progress: { pages: 2, percent: 40 } }),
    );
    const run = inProcess(['watch', wf.queue_id, '--interval', '30'], undefined, true);
    await new Promise((r) => setTimeout(r, 200));
    await m.manager.handleEvent(
      queueEvent(wf, {
        producer: 'arango-connector',
        status: 'completed',
        finished: true,
        records_written: 5,
      }),
    );
    const out = await run;
    expect(out.code).toBe(0);
    expect(out.stdout).toMatch(new RegExp(`${wf.queue_id} \\|[█░]+\\| 40% \\| loading`));
    expect(out.stdout).toMatch(/\| 100% \| completed \| 5 records/);
  });
});
