/**
 * `streamforge series`, `gaps` and `export` against a real manager (SQLite store) served on
 * 127.0.0.1: tables and `--json`, the coverage timeline with a planted hole and an exchange gap,
 * and an export to a file (the binary, and in-process on a "terminal" for the progress bar)
 * that is byte for byte what the API serves.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalCollection } from '../../shared/contracts/events.ts';
import { rowFromRecord } from '../../shared/contracts/rows.ts';
import { serve, type Served } from '../../shared/runtime/serve.ts';
import { recordCoverage } from '../../shared/store/coverage.ts';
import { T0, kline } from '../arango-connector/helpers.ts';
import { logger, startManager, tempDir, type TestManager } from '../queue-manager/helpers.ts';
import { runBinary, runInProcess } from './run.ts';

const TOKEN = 'series-cli-token';
const MINUTE = 60_000;
const N = 12_000;
const tmp = tempDir();
let m: TestManager;
let served: Served;

beforeAll(async () => {
  m = await startManager({ sqlitePath: path.join(tmp.dir, 'cli.sqlite'), settings: { apiToken: TOKEN } });
  const collection = canonicalCollection('kline');
  await m.store.upsertRows(collection, {
    kind: 'kline',
    series: { market: 'spot', symbol: 'BTCUSDT', dataset: 'klines_1m' },
    rows: Array.from({ length: N }, (_, i) => rowFromRecord('kline', kline(i))),
  });
  // Stored: [0, 100) and [200, N) minutes; the exchange has nothing in [100, 150); [150, 200) was never loaded.
  await recordCoverage(m.store, collection, 'spot:BTCUSDT:klines_1m', {
    covered: [
      { from: T0, to: T0 + 100 * MINUTE },
      { from: T0 + 200 * MINUTE, to: T0 + N * MINUTE },
    ],
    gaps: [{ from: T0 + 100 * MINUTE, to: T0 + 150 * MINUTE }],
  });
  served = await serve(m.manager.app, { port: 0, host: '127.0.0.1', logger, handleSignals: false });
});

afterAll(async () => {
  await served.close();
  await m.close();
  tmp.cleanup();
});

const env = () => ({ STREAMFORGE_URL: served.url, STREAMFORGE_TOKEN: TOKEN });

describe('streamforge series and gaps', () => {
  it('series prints a table; --json the API answer', async () => {
    const text = await runInProcess(['series'], env());
    expect(text.stderr).toBe('');
    expect(text.code).toBe(0);
    expect(text.stdout).toBe(
      'MARKET  SYMBOL   DATASET    RECORDS  FIRST                 LAST\n' +
        'spot    BTCUSDT  klines_1m  12,000   2024-01-01T00:00:00Z  2024-01-09T07:59:00Z\n' +
        '1 series, 12,000 records\n',
    );
    const json = await runInProcess(['series', '--json'], env());
    expect(JSON.parse(json.stdout)).toEqual({
      items: [
        {
          market: 'spot',
          symbol: 'BTCUSDT',
          dataset: 'klines_1m',
          count: N,
          first: T0,
          last: T0 + (N - 1) * MINUTE,
        },
      ],
    });
  });

  it('gaps shows stored ranges, the exchange gap and the missing stretch', async () => {
    const run = await runInProcess(['gaps', 'spot', 'BTCUSDT', 'klines_1m'], env());
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(
      'spot BTCUSDT klines_1m: 12,000 records from 2024-01-01T00:00:00Z to 2024-01-09T07:59:00Z\n' +
        'FROM                  TO                    SPAN    STATE\n' +
        '2024-01-01T00:00:00Z  2024-01-01T01:40:00Z  1h 40m  stored\n' +
        '2024-01-01T01:40:00Z  2024-01-01T02:30:00Z  50m     no data at the exchange\n' +
        '2024-01-01T02:30:00Z  2024-01-01T03:20:00Z  50m     MISSING (not loaded)\n' +
        '2024-01-01T03:20:00Z  2024-01-09T08:00:00Z  8d 4h   stored\n' +
        '1 missing (50m), 1 exchange gaps (50m)\n',
    );
    const json = JSON.parse(
      (await runInProcess(['--json', 'gaps', 'spot', 'BTCUSDT', 'klines_1m'], env())).stdout,
    ) as {
      missing: unknown[];
      gaps: unknown[];
      count: number;
    };
    expect(json.count).toBe(N);
    expect(json.gaps).toEqual([{ from: T0 + 100 * MINUTE, to: T0 + 150 * MINUTE }]);
    expect(json.missing).toEqual([{ from: T0 + 150 * MINUTE, to: T0 + 200 * MINUTE }]);
  });
});

describe('streamforge export', () => {
  it('the binary writes the file under the server name, equal to the API bytes; --json summary', async () => {
    const out = path.join(tmp.dir, 'k.csv');
    const run = await runBinary(
      ['export', 'spot', 'BTCUSDT', 'klines_1m', '--format', 'csv', '--out', out],
      env(),
    );
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(new RegExp(`^wrote ${out}: 12,000 rows, [0-9.]+ MB\\n$`));
    const api = Buffer.from(
      await (await fetch(`${served.url}/series/spot/BTCUSDT/klines_1m/export?format=csv`)).arrayBuffer(),
    );
    expect(readFileSync(out).equals(api)).toBe(true);
    expect(existsSync(`${out}.part`)).toBe(false);

    const pq = await runBinary(
      [
        '--json',
        'export',
        'spot',
        'BTCUSDT',
        'klines_1m',
        '--format',
        'parquet',
        '--from',
        '2024-01-02',
        '--to',
        '2024-01-03',
        '--out',
        tmp.dir,
      ],
      env(),
    );
    expect(pq.code).toBe(0);
    const summary = JSON.parse(pq.stdout) as { file: string; bytes: number; format: string };
    // --out a directory: the server's file name in it.
    expect(path.basename(summary.file)).toBe(
      'spot-BTCUSDT-klines_1m-20240102T000000Z-20240103T000000Z.parquet',
    );
    const file = readFileSync(summary.file);
    expect(file.length).toBe(summary.bytes);
    expect(file.subarray(0, 4).toString()).toBe('PAR1');
    expect(file.subarray(-4).toString()).toBe('PAR1');
  });

  it('on a terminal it draws a progress bar of rows against the series count', async () => {
    const out = path.join(tmp.dir, 'bar.csv');
    const run = await runInProcess(
      ['export', 'spot', 'BTCUSDT', 'klines_1m', '--format', 'csv', '--out', out],
      env(),
      true,
    );
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/export \|[█░]+\| 100% \| 12000\/12000 rows \| [0-9.]+ MB/);
    expect(readFileSync(out, 'utf8').split('\r\n')).toHaveLength(N + 2);
  });

  it('--out - writes the file to stdout', async () => {
    const run = await runInProcess(
      [
        'export',
        'spot',
        'BTCUSDT',
        'klines_1m',
        '--format',
        'csv',
        '--from',
        String(T0),
        '--to',
        String(T0 + 2 * MINUTE),
        '--out',
        '-',
      ],
      env(),
    );
    expect(run.code).toBe(0);
    expect(run.stdout.split('\r\n')).toHaveLength(4);
    expect(run.stdout).toMatch(/^market,symbol,interval,open_time,/);
  });
});
