/**
 * Every failure of the `streamforge` binary prints one message on stderr, nothing on stdout, and
 * exits with its documented code (functions/cli/exit-codes.ts, docs/cli.md). The API answers come
 * from a real manager on 127.0.0.1 where it can produce them, and from a small hono server
 * answering what the manager answers otherwise (429 with Retry-After, 5xx, a foreign body).
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT, EXIT_CODE_ROWS } from '../../functions/cli/exit-codes.ts';
import { canonicalCollection } from '../../shared/contracts/events.ts';
import { rowFromRecord } from '../../shared/contracts/rows.ts';
import { serve, type Served } from '../../shared/runtime/serve.ts';
import { kline } from '../arango-connector/helpers.ts';
import {
  BODY,
  logger,
  queueEvent,
  startManager,
  tempDir,
  type TestManager,
} from '../queue-manager/helpers.ts';
import { runBinary, runInProcess, type Run } from './run.ts';

const TOKEN = 'exit-codes-token';
const tmp = tempDir();
/** A well-formed id no workflow has. */
const UNKNOWN = 'wf-btcusdt-api_trades-20240801-000000';

let m: TestManager;
let manager: Served;
let stub: Served;
/** A port nothing listens on (bound, then closed). */
let closedPort: number;

/**
 * Answers `GET /workflows/<id>` with the status in the id's last three digits, each with the body
 * the manager's error mapping gives it (shared/runtime/errors.ts, app.ts).
 */
function stubApp(): Hono {
  const app = new Hono();
  app.get('/workflows/:id', (c) => {
    const status = Number(c.req.param('id').slice(-3));
    switch (status) {
      case 200: // well-formed JSON, but not a workflow
        return c.json([c.req.param('id')], 200);
      case 403:
        return c.json({ error: 'token lacks the workflows scope' }, 403);
      case 405:
        return c.json({ error: 'method GET not allowed' }, 405);
      case 413:
        return c.json({ error: 'request body larger than 8388608 bytes' }, 413);
      case 429:
        return c.json({ error: '40 workflows in flight; retry later' }, 429, { 'Retry-After': '30' });
      case 500:
        return c.json({ error: 'internal error' }, 500);
      case 501:
        return c.json({ error: 'workflow type ws_trades is not built yet' }, 501);
      case 502:
        return c.text('<html>bad gateway</html>', 502);
      case 503:
        return c.json({ error: 'store unavailable' }, 503, { 'Retry-After': '5' });
      default:
        return c.json({ error: `no status ${status}` }, 418);
    }
  });
  return app;
}

const stubId = (status: number) => `wf-btcusdt-api_trades-20240801-000${status}`;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

beforeAll(async () => {
  m = await startManager({ sqlitePath: path.join(tmp.dir, 'exit.sqlite'), settings: { apiToken: TOKEN } });
  manager = await serve(m.manager.app, { port: 0, host: '127.0.0.1', logger, handleSignals: false });
  stub = await serve(stubApp(), { port: 0, host: '127.0.0.1', logger, handleSignals: false });
  closedPort = await freePort();
});

afterAll(async () => {
  await stub.close();
  await manager.close();
  await m.close();
  tmp.cleanup();
});

/** The binary against the real manager, with the token unless `env` says otherwise. */
const cli = (args: string[], env: Record<string, string> = { STREAMFORGE_TOKEN: TOKEN }) =>
  runBinary(args, { STREAMFORGE_URL: manager.url, ...env });

/** A failure: exactly this on stderr, nothing on stdout. */
function failed(run: Run, code: number, stderr: string): void {
  expect({ code: run.code, stdout: run.stdout, stderr: run.stderr }).toEqual({ code, stdout: '', stderr });
}

describe.concurrent('streamforge exit codes (the binary)', () => {
  it('0: success prints the answer on stdout and nothing on stderr', async () => {
    const res = await m.request('/workflows', {
      method: 'POST',
      body: { ...BODY, symbol: 'SOLUSDT' },
      token: TOKEN,
    });
    const wf = (await res.json()) as { queue_id: string };
    const run = await cli(['list', '--symbol', 'SOLUSDT', '--limit', '500', '--offset', '0']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(EXIT.ok);
    expect(run.stdout).toMatch(new RegExp(`^QUEUE_ID\\s+STATUS.*\\n${wf.queue_id}\\s+pending`));
  });

  it('1: an answer that is not what the API promises', async () => {
    const url = `${stub.url}/workflows/${stubId(200)}`;
    failed(
      await cli(['get', stubId(200)], { STREAMFORGE_URL: stub.url }),
      1,
      `error: unexpected answer from GET ${url} (HTTP 200); are the CLI and the manager the same version?\n` +
        '  Invalid input: expected object, received array\n',
    );
  });

  it('2: list --limit abc', async () => {
    failed(
      await cli(['list', '--limit', 'abc']),
      2,
      "error: option '--limit <n>' argument 'abc' is invalid. expected a positive integer\n",
    );
  });

  it('2: list --limit 0 (below the API minimum)', async () => {
    failed(
      await cli(['list', '--limit', '0']),
      2,
      "error: option '--limit <n>' argument '0' is invalid. expected an integer from 1 to 500\n",
    );
  });

  it('2: list --limit 501 (above the API maximum)', async () => {
    failed(
      await cli(['list', '--limit', '501']),
      2,
      "error: option '--limit <n>' argument '501' is invalid. expected an integer from 1 to 500\n",
    );
  });

  it('2: list --offset -1', async () => {
    failed(
      await cli(['list', '--offset', '-1']),
      2,
      "error: option '--offset <n>' argument '-1' is invalid. expected a non-negative integer\n",
    );
  });

  it('2: an unknown command', async () => {
    failed(await cli(['lsit']), 2, "error: unknown command 'lsit'\n(Did you mean list?)\n");
  });

  it('2: a missing required option', async () => {
    failed(
      await cli(['submit', '--symbol', 'BTCUSDT']),
      2,
      "error: required option '--type <type>' not specified\n",
    );
  });

  it('2: a missing argument', async () => {
    failed(await cli(['cancel']), 2, "error: missing required argument 'queue_id'\n");
  });

  it('2: a malformed queue id, checked before any request', async () => {
    failed(
      await cli(['get', 'wf-nope'], { STREAMFORGE_URL: `http://127.0.0.1:${closedPort}` }),
      2,
      "error: command-argument value 'wf-nope' is invalid for argument 'queue_id'. " +
        'queue_id must look like wf-btcusdt-api_candles_5m-20240801-a1b2c3\n',
    );
  });

  it('2: an invalid STREAMFORGE_URL', async () => {
    failed(
      await cli(['list'], { STREAMFORGE_URL: 'localhost:8080' }),
      2,
      "error: STREAMFORGE_URL 'localhost:8080' is invalid. expected an http(s) URL, e.g. http://127.0.0.1:8080\n",
    );
  });

  it("3: the manager's 400 with its error and one line per issue", async () => {
    failed(
      await cli([
        'submit',
        '--symbol',
        'btc',
        '--type',
        'api_candles_5m',
        '--range',
        '2024-08-01:2024-08-02',
        '--kafka-topic',
        '9lives',
      ]),
      3,
      'error: invalid request json (HTTP 400)\n' +
        '  symbol: symbol must match [A-Z0-9]{2,20}, e.g. BTCUSDT\n' +
        '  kafka_topic: names may use letters, digits, "_" and "-", starting with a letter\n',
    );
  });

  it('2: export without --format, with an unknown format, or a malformed dataset', async () => {
    failed(
      await cli(['export', 'spot', 'BTCUSDT', 'klines_1m']),
      2,
      "error: required option '--format <format>' not specified\n",
    );
    failed(
      await cli(['export', 'spot', 'BTCUSDT', 'klines_1m', '--format', 'xlsx']),
      2,
      "error: option '--format <format>' argument 'xlsx' is invalid. Allowed choices are csv, parquet.\n",
    );
    failed(
      await cli(['gaps', 'spot', 'BTCUSDT', 'candles'], {
        STREAMFORGE_URL: `http://127.0.0.1:${closedPort}`,
      }),
      2,
      "error: command-argument value 'candles' is invalid for argument 'dataset'. " +
        'expected klines_<interval> (e.g. klines_1m), trades, agg_trades, funding, depth or book_ticker\n',
    );
  });

  it("3: export's bad range is the manager's 400 with its issue", async () => {
    await m.store.upsertRows(canonicalCollection('kline'), {
      kind: 'kline',
      series: { market: 'spot', symbol: 'BTCUSDT', dataset: 'klines_1m' },
      rows: [rowFromRecord('kline', kline(0))],
    });
    failed(
      await cli(['export', 'spot', 'BTCUSDT', 'klines_1m', '--format', 'csv', '--from', 'yesterday']),
      3,
      'error: invalid request query (HTTP 400)\n' +
        '  from: expected epoch milliseconds or ISO-8601 (e.g. 1704067200000, 2024-01-01, 2024-01-01T00:00:00Z)\n',
    );
  });

  it('5: series commands on a series nothing is stored for', async () => {
    const msg = 'error: no stored series spot:NOPEUSDT:klines_1m (HTTP 404)\n';
    failed(await cli(['gaps', 'spot', 'NOPEUSDT', 'klines_1m']), 5, msg);
    failed(await cli(['export', 'spot', 'NOPEUSDT', 'klines_1m', '--format', 'parquet']), 5, msg);
  });

  it('4: 401 without a token says which variable to set', async () => {
    failed(
      await cli(['cancel', UNKNOWN], {}),
      4,
      'error: missing or wrong bearer token (HTTP 401); no token was sent: ' +
        "set STREAMFORGE_TOKEN or pass --token <token> (the manager's API_TOKEN)\n",
    );
  });

  it('4: 401 with a wrong token says it was refused', async () => {
    failed(
      await cli(['--token', 'wrong', 'cancel', UNKNOWN], {}),
      4,
      'error: missing or wrong bearer token (HTTP 401); the token was refused: ' +
        "STREAMFORGE_TOKEN or --token must be the manager's API_TOKEN\n",
    );
  });

  it('5: 404 for an unknown workflow', async () => {
    failed(await cli(['get', UNKNOWN]), 5, `error: no workflow ${UNKNOWN} (HTTP 404)\n`);
  });

  it('6: 409 when cancelling a cancelled workflow', async () => {
    const res = await m.request('/workflows', {
      method: 'POST',
      body: { ...BODY, symbol: 'DOGEUSDT' },
      token: TOKEN,
    });
    const { queue_id } = (await res.json()) as { queue_id: string };
    await m.manager.service.cancel(queue_id);
    failed(
      await cli(['cancel', queue_id]),
      6,
      `error: workflow ${queue_id} is cancelled: cannot cancel (HTTP 409)\n`,
    );
  });

  it('7: 429 prints the Retry-After seconds', async () => {
    failed(
      await cli(['get', stubId(429)], { STREAMFORGE_URL: stub.url }),
      7,
      'error: 40 workflows in flight; retry later (HTTP 429); retry after 30 s\n',
    );
  });

  it('8: nothing listens (ECONNREFUSED): the URL, the cause and how to start the platform', async () => {
    const url = `http://127.0.0.1:${closedPort}`;
    failed(
      await cli(['get', UNKNOWN], { STREAMFORGE_URL: url }),
      8,
      `error: cannot reach ${url}/workflows/${UNKNOWN}: connect ECONNREFUSED 127.0.0.1:${closedPort}; ` +
        'is the platform running? start it with npm start (or point --url / STREAMFORGE_URL at the manager)\n',
    );
  });

  it.each([
    [
      [
        '--type',
        'graph_build',
        '--symbols',
        'BTCUSDT,ETHUSDT',
        '--range',
        '2024-01-01:2024-01-11',
        '--graph',
        '{"window":"30d"}',
      ],
      'error: invalid request json (refused before sending; the API answers 400)\n' +
        '  graph.window: window 720h is 720 bars of 1h but the range has only 240: nothing to build\n',
    ],
    [
      ['--type', 'ws_trades', '--symbol', 'BTCUSDT', '--end', '2001-01-01T00:00:00Z'],
      'error: invalid request json (refused before sending; the API answers 400)\n' +
        '  end: end 2001-01-01T00:00:00Z is not in the future\n',
    ],
    [
      ['--type', 'api_candles_1m', '--symbol', 'BTCUSDT', '--range', '1970-01-01:9999-12-31'],
      'error: invalid request json (refused before sending; the API answers 400)\n' +
        '  time_range: start 1970-01-01T00:00:00.000Z is before spot opened (2017-07-14)\n',
    ],
  ])(
    '3: submit %j breaks a request rule: refused without a request (nothing listens)',
    async (args, stderr) => {
      // Nothing listens at the URL: a request would have ended in 8, not 3.
      failed(
        await cli(['submit', ...args], { STREAMFORGE_URL: `http://127.0.0.1:${closedPort}` }),
        3,
        stderr,
      );
    },
  );

  it('8: a 500 answer: the URL and the server message', async () => {
    failed(
      await cli(['get', stubId(500)], { STREAMFORGE_URL: stub.url }),
      8,
      `error: GET ${stub.url}/workflows/${stubId(500)} failed with HTTP 500: internal error\n`,
    );
  });

  it('9: watching a workflow that ended in error', async () => {
    const res = await m.request('/workflows', {
      method: 'POST',
      body: { ...BODY, symbol: 'TRXUSDT' },
      token: TOKEN,
    });
    const wf = (await res.json()) as Parameters<typeof queueEvent>[0];
    await m.manager.handleEvent(
      queueEvent(wf, { status: 'error', finished: true, error: { code: -1121, message: 'Invalid symbol.' } }),
    );
    const run = await cli(['watch', wf.queue_id, '--interval', '20']);
    expect(run).toEqual({
      code: 9,
      stdout:
        `${wf.queue_id}  error  0 records  -1121 Invalid symbol.\n` +
        `error ${wf.queue_id}: -1121 Invalid symbol.\n`,
      stderr: '',
    });
  });
});

describe('streamforge exit codes (in-process, the other statuses)', () => {
  const get = (status: number, env: Record<string, string> = {}) =>
    runInProcess(['get', stubId(status)], { STREAMFORGE_URL: stub.url, ...env });

  it.each([
    [
      403,
      4,
      'error: token lacks the workflows scope (HTTP 403); the token was refused: ' +
        "STREAMFORGE_TOKEN or --token must be the manager's API_TOKEN\n",
      { STREAMFORGE_TOKEN: 'x' },
    ],
    [405, 1, 'error: method GET not allowed (HTTP 405)\n', {}],
    [413, 3, 'error: request body larger than 8388608 bytes (HTTP 413)\n', {}],
    [501, 3, 'error: workflow type ws_trades is not built yet (HTTP 501)\n', {}],
    [502, 8, `error: GET ${'STUB'}/workflows/${stubId(502)} failed with HTTP 502\n`, {}],
    [
      503,
      8,
      `error: GET ${'STUB'}/workflows/${stubId(503)} failed with HTTP 503: store unavailable; retry after 5 s\n`,
      {},
    ],
  ] as const)('HTTP %i exits %i', async (status, code, stderr, env) => {
    failed(await get(status, env), code, stderr.replace('STUB', stub.url));
  });

  it('watch of an unknown id exits 5 (the failure, not 9), stdout empty even with --json', async () => {
    failed(
      await runInProcess(['--json', 'watch', UNKNOWN], { STREAMFORGE_URL: manager.url }),
      5,
      `error: no workflow ${UNKNOWN} (HTTP 404)\n`,
    );
  });

  it('--help and docs/cli.md list every exit code as exit-codes.ts defines it', async () => {
    const run = await runInProcess(['--help'], {});
    expect(run.code).toBe(0);
    const doc = readFileSync(path.resolve(import.meta.dirname, '../../docs/cli.md'), 'utf8');
    expect(EXIT_CODE_ROWS.map(([code]) => code)).toEqual(Object.values(EXIT));
    for (const [code, meaning] of EXIT_CODE_ROWS) {
      expect(run.stdout).toContain(`\n  ${code}  ${meaning}\n`);
      const escaped = meaning.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      expect(doc).toMatch(new RegExp(`^\\| ${code} +\\| ${escaped} +\\|$`, 'm'));
    }
  });
});
