/**
 * The simulated data.binance.vision (binance.md §5) over real HTTP: paths and names, CSV layouts,
 * publication, CHECKSUM files, faults — and the seam that matters to a bulk loader: every file
 * holds exactly the records the REST API returns for its period.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { strFromU8, unzipSync } from 'fflate';
import { SimEnv } from '../../functions/dummy-service/exchange/sim-env.ts';
import type { ExchangeOptions } from '../../functions/dummy-service/exchange/exchange.ts';
import { ConfigError, loadConfig } from '../../shared/runtime/config.ts';
import { DAY, MIN, NOW, start, type Row, type Running } from './helpers.ts';

const D = Date.UTC;
/** A maintenance window inside 2024-01-02 (150 minutes without candles or trades). */
const GAP = { symbol: 'BTCUSDT', market: 'spot' as const, from: D(2024, 0, 2, 3), to: D(2024, 0, 2, 5, 30) };
const BASE: ExchangeOptions = {
  weightLimit: 0,
  futuresWeightLimit: 0,
  gaps: { perYear: 0, windows: [GAP] },
  archive: {
    missingDaily: ['BTCUSDT:2024-01-03', 'usdm:ETHUSDT:2024-01-03'],
    badChecksum: ['BTCUSDT-1m-2024-01-04.zip'],
    unpublishedMonthly: ['BTCUSDT:2024-03'],
  },
};

const running: Running[] = [];
let sim: Running;
/** The exchange clock of `sim`; tests that move it put it back. */
let clock = NOW;
async function startSim(opts: ExchangeOptions = {}): Promise<Running> {
  const s = await start({ now: () => clock, ...BASE, ...opts });
  running.push(s);
  return s;
}
beforeAll(async () => {
  sim = await startSim();
});
afterAll(async () => {
  await Promise.all(running.map((s) => s.close()));
});

const SPOT = '/data/spot';
const UM = '/data/futures/um';
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

async function download(path: string, s = sim): Promise<Uint8Array> {
  const res = await s.get(path);
  const body = new Uint8Array(await res.arrayBuffer());
  if (res.status !== 200) throw new Error(`${path}: HTTP ${res.status} ${Buffer.from(body).toString()}`);
  expect(res.headers.get('content-type')).toBe('application/zip');
  return body;
}

/** The one CSV of a zip, named like the zip, as rows of fields. */
function csvOf(zip: Uint8Array, zipName: string): string[][] {
  const files = unzipSync(zip);
  const csvName = zipName.replace(/\.zip$/, '.csv');
  expect(Object.keys(files)).toEqual([csvName]);
  const text = strFromU8(files[csvName]!);
  if (text === '') return [];
  expect(text.endsWith('\n')).toBe(true);
  return text
    .slice(0, -1)
    .split('\n')
    .map((l) => l.split(','));
}

const fileOf = (path: string) => path.slice(path.lastIndexOf('/') + 1);
const rowsAt = async (path: string, s = sim) => csvOf(await download(path, s), fileOf(path));
const status = async (path: string, s = sim) => {
  const res = await s.get(path);
  await res.arrayBuffer();
  return res.status;
};

/** REST klines with open time in [from, to), paged like a client. */
async function restKlines(api: string, symbol: string, interval: string, from: number, to: number) {
  const out: Row[] = [];
  for (let t = from; ;) {
    const rows = await sim.json<Row[]>(
      `${api}/klines?symbol=${symbol}&interval=${interval}&startTime=${t}&endTime=${to - 1}&limit=1000`,
    );
    out.push(...rows);
    if (rows.length < 1000) return out;
    t = rows[rows.length - 1]![0] + 1;
  }
}

interface Agg {
  a: number;
  p: string;
  q: string;
  f: number;
  l: number;
  T: number;
  m: boolean;
  M?: boolean;
}
interface Trade {
  id: number;
  price: string;
  qty: string;
  quoteQty: string;
  time: number;
  isBuyerMaker: boolean;
  isBestMatch: boolean;
}

/** REST aggregated trades with time in [from, to): the first page by time (within 1 h for USD-M), then by id. */
async function restAggs(api: string, symbol: string, from: number, to: number): Promise<Agg[]> {
  const out: Agg[] = [];
  let page = await sim.json<Agg[]>(
    `${api}/aggTrades?symbol=${symbol}&startTime=${from}&endTime=${from + 59 * MIN}&limit=1000`,
  );
  while (page.length > 0) {
    for (const a of page) if (a.T < to) out.push(a);
    if (page[page.length - 1]!.T >= to) return out;
    page = await sim.json<Agg[]>(
      `${api}/aggTrades?symbol=${symbol}&fromId=${page[page.length - 1]!.a + 1}&limit=1000`,
    );
  }
  return out;
}

/** REST spot trades with time in [from, to), via historicalTrades from the first trade id of the period. */
async function restTrades(symbol: string, from: number, to: number): Promise<Trade[]> {
  const [first] = await restAggs('/api/v3', symbol, from, from + MIN * 59);
  const out: Trade[] = [];
  for (let id = first!.f; ;) {
    const page = await sim.json<Trade[]>(`/api/v3/historicalTrades?symbol=${symbol}&fromId=${id}&limit=1000`);
    for (const t of page) if (t.time < to) out.push(t);
    if (page.length < 1000 || page[page.length - 1]!.time >= to) return out;
    id = page[page.length - 1]!.id + 1;
  }
}

/** A REST kline row as the archive writes it: ms as is, µs as ms·1000 (close: ms·1000 + 999). */
const klineCsv = (r: Row, micros = false): string[] =>
  r.map((v, i) => {
    if (!micros || (i !== 0 && i !== 6)) return String(v);
    return String((v as number) * 1000 + (i === 6 ? 999 : 0));
  });
const pyBool = (b: boolean) => (b ? 'True' : 'False');

describe('archive klines = REST klines', () => {
  it('a spot 1m day across a maintenance gap, row for row', async () => {
    const from = D(2024, 0, 2);
    const rows = await rowsAt(`${SPOT}/daily/klines/BTCUSDT/1m/BTCUSDT-1m-2024-01-02.zip`);
    const rest = await restKlines('/api/v3', 'BTCUSDT', '1m', from, from + DAY);
    expect(rest.length).toBe(1440 - 150);
    expect(rows).toEqual(rest.map((r) => klineCsv(r)));
    expect(rows.some((r) => Number(r[0]) >= GAP.from && Number(r[0]) < GAP.to)).toBe(false);
    expect(rows[0]![0]).toBe(String(from));
    expect(rows[rows.length - 1]![6]).toBe(String(from + DAY - 1));
  });

  it('a spot 1m month, row for row', async () => {
    const rows = await rowsAt(`${SPOT}/monthly/klines/BTCUSDT/1m/BTCUSDT-1m-2024-01.zip`);
    const rest = await restKlines('/api/v3', 'BTCUSDT', '1m', D(2024, 0, 1), D(2024, 1, 1));
    expect(rest.length).toBe(31 * 1440 - 150);
    expect(rows).toEqual(rest.map((r) => klineCsv(r)));
  });

  it('a 2025 spot day is in µs: times ×1000, close time +999', async () => {
    const from = D(2025, 2, 1);
    const rows = await rowsAt(`${SPOT}/daily/klines/BTCUSDT/1m/BTCUSDT-1m-2025-03-01.zip`);
    const rest = await restKlines('/api/v3', 'BTCUSDT', '1m', from, from + DAY);
    expect(rest.length).toBe(1440);
    expect(rows).toEqual(rest.map((r) => klineCsv(r, true)));
    expect(rows[0]!.slice(0, 7)).toEqual([
      '1740787200000000',
      rest[0]![1],
      rest[0]![2],
      rest[0]![3],
      rest[0]![4],
      rest[0]![5],
      '1740787259999999',
    ]);
    // The last day of 2024 is still in ms.
    const dec31 = await rowsAt(`${SPOT}/daily/klines/BTCUSDT/1h/BTCUSDT-1h-2024-12-31.zip`);
    expect(dec31.map((r) => r[0])).toEqual(Array.from({ length: 24 }, (_, h) => String(D(2024, 11, 31, h))));
  });

  it('monthly 1M klines live in the `1mo` folder and file name', async () => {
    const rows = await rowsAt(`${SPOT}/monthly/klines/BTCUSDT/1mo/BTCUSDT-1mo-2024-01.zip`);
    const rest = await sim.json<Row[]>(
      `/api/v3/klines?symbol=BTCUSDT&interval=1M&startTime=${D(2024, 0, 1)}&limit=1`,
    );
    expect(rows).toEqual([klineCsv(rest[0]!)]);
    expect(rows[0]![6]).toBe(String(D(2024, 1, 1) - 1));
    expect(await status(`${SPOT}/monthly/klines/BTCUSDT/1M/BTCUSDT-1M-2024-01.zip`)).toBe(404);
    expect(await status(`${SPOT}/monthly/klines/BTCUSDT/1mo/BTCUSDT-1M-2024-01.zip`)).toBe(404);
  });

  it('3d and 1w are monthly only; 1s is spot only, with a row for every second', async () => {
    const weeks = await rowsAt(`${SPOT}/monthly/klines/BTCUSDT/1w/BTCUSDT-1w-2024-01.zip`);
    const rest = await restKlines('/api/v3', 'BTCUSDT', '1w', D(2024, 0, 1), D(2024, 1, 1));
    expect(weeks).toEqual(rest.map((r) => klineCsv(r)));
    expect(weeks.map((r) => r[0])).toEqual([1, 8, 15, 22, 29].map((d) => String(D(2024, 0, d))));
    expect(await status(`${SPOT}/daily/klines/BTCUSDT/3d/BTCUSDT-3d-2024-01-01.zip`)).toBe(404);
    expect(await status(`${SPOT}/daily/klines/BTCUSDT/1w/BTCUSDT-1w-2024-01-01.zip`)).toBe(404);
    expect(await status(`${UM}/daily/klines/BTCUSDT/1s/BTCUSDT-1s-2024-01-01.zip`)).toBe(404);
    expect(await status(`${UM}/monthly/klines/BTCUSDT/1s/BTCUSDT-1s-2024-01.zip`)).toBe(404);
    const seconds = await rowsAt(`${SPOT}/daily/klines/ETHBTC/1s/ETHBTC-1s-2024-01-05.zip`);
    expect(seconds.length).toBe(86_400);
    const restSeconds = await restKlines('/api/v3', 'ETHBTC', '1s', D(2024, 0, 5, 7), D(2024, 0, 5, 7, 20));
    const at = (D(2024, 0, 5, 7) - D(2024, 0, 5)) / 1000;
    expect(seconds.slice(at, at + 1200)).toEqual(restSeconds.map((r) => klineCsv(r)));
  });
});

describe('archive trades = REST trades', () => {
  it('spot aggTrades of a day equal REST aggTrades (ids, prices, booleans True/False)', async () => {
    const from = D(2024, 0, 2);
    const rows = await rowsAt(`${SPOT}/daily/aggTrades/ETHBTC/ETHBTC-aggTrades-2024-01-02.zip`);
    const rest = await restAggs('/api/v3', 'ETHBTC', from, from + DAY);
    expect(rest.length).toBeGreaterThan(3000);
    expect(rows).toEqual(
      rest.map((a) => [a.a, a.p, a.q, a.f, a.l, a.T, pyBool(a.m), pyBool(a.M!)].map(String)),
    );
    expect(new Set(rows.map((r) => r[6]))).toEqual(new Set(['True', 'False']));
  });

  it('spot trades of a day equal REST historicalTrades', async () => {
    const from = D(2024, 0, 2);
    const rows = await rowsAt(`${SPOT}/daily/trades/ETHBTC/ETHBTC-trades-2024-01-02.zip`);
    const rest = await restTrades('ETHBTC', from, from + DAY);
    expect(rows).toEqual(
      rest.map((t) =>
        [t.id, t.price, t.qty, t.quoteQty, t.time, pyBool(t.isBuyerMaker), pyBool(t.isBestMatch)].map(String),
      ),
    );
    // Ids run on from the previous day's file without a hole.
    const before = await rowsAt(`${SPOT}/daily/trades/ETHBTC/ETHBTC-trades-2024-01-01.zip`);
    expect(Number(before[before.length - 1]![0]) + 1).toBe(rest[0]!.id);
  });

  it('2025 spot trade files carry µs times', async () => {
    const from = D(2025, 0, 1);
    const rows = await rowsAt(`${SPOT}/daily/aggTrades/ETHBTC/ETHBTC-aggTrades-2025-01-01.zip`);
    const rest = await restAggs('/api/v3', 'ETHBTC', from, from + DAY);
    expect(rows.map((r) => [r[0], r[5]])).toEqual(rest.map((a) => [String(a.a), String(a.T * 1000)]));
  });

  it('a monthly aggTrades file is its daily files end to end', async () => {
    const monthly = await rowsAt(`${SPOT}/monthly/aggTrades/ETHBTC/ETHBTC-aggTrades-2024-02.zip`);
    const daily: string[][] = [];
    for (let d = 1; d <= 29; d++) {
      const day = `2024-02-${String(d).padStart(2, '0')}`;
      daily.push(...(await rowsAt(`${SPOT}/daily/aggTrades/ETHBTC/ETHBTC-aggTrades-${day}.zip`)));
    }
    expect(monthly).toEqual(daily);
  });

  it('USD-M aggTrades equal /fapi/v1/aggTrades: ms times, lower-case booleans, no best-match column', async () => {
    const from = D(2023, 5, 1);
    const rows = await rowsAt(`${UM}/daily/aggTrades/ETHUSDT/ETHUSDT-aggTrades-2023-06-01.zip`);
    expect(rows[0]).toEqual([
      'agg_trade_id',
      'price',
      'quantity',
      'first_trade_id',
      'last_trade_id',
      'transact_time',
      'is_buyer_maker',
    ]);
    const rest = await restAggs('/fapi/v1', 'ETHUSDT', from, from + DAY);
    expect(rows.slice(1)).toEqual(rest.map((a) => [a.a, a.p, a.q, a.f, a.l, a.T, a.m].map(String)));
    expect(new Set(rows.slice(1).map((r) => r[6]))).toEqual(new Set(['true', 'false']));
  });
});

describe('futures header rows', () => {
  const header = async (path: string) => (await rowsAt(path))[0]!.join(',');
  it('klines from 2022-05-01, trades and aggTrades from 2022-08-11, by the file’s first day', async () => {
    const kl =
      'open_time,open,high,low,close,volume,close_time,quote_volume,count,taker_buy_volume,taker_buy_quote_volume,ignore';
    expect(await header(`${UM}/daily/klines/BTCUSDT/1h/BTCUSDT-1h-2022-05-01.zip`)).toBe(kl);
    expect(await header(`${UM}/monthly/klines/BTCUSDT/1d/BTCUSDT-1d-2022-05.zip`)).toBe(kl);
    expect(await header(`${UM}/daily/klines/BTCUSDT/1h/BTCUSDT-1h-2022-04-30.zip`)).toBe(
      klineCsv((await restKlines('/fapi/v1', 'BTCUSDT', '1h', D(2022, 3, 30), D(2022, 3, 30, 1)))[0]!).join(
        ',',
      ),
    );
    expect(await header(`${UM}/monthly/klines/BTCUSDT/1d/BTCUSDT-1d-2022-04.zip`)).toMatch(/^1648771200000,/);
    expect(await header(`${UM}/daily/trades/ETHUSDT/ETHUSDT-trades-2022-08-11.zip`)).toBe(
      'id,price,qty,quote_qty,time,is_buyer_maker',
    );
    const old = await rowsAt(`${UM}/daily/trades/ETHUSDT/ETHUSDT-trades-2022-08-10.zip`);
    expect(old[0]!.length).toBe(6);
    expect(old[0]![0]).toMatch(/^\d+$/);
    expect(old[0]![4]).toMatch(/^\d{13}$/);
    expect(await header(`${UM}/daily/aggTrades/ETHUSDT/ETHUSDT-aggTrades-2022-08-11.zip`)).toMatch(
      /^agg_trade_id,/,
    );
    expect(await header(`${UM}/daily/aggTrades/ETHUSDT/ETHUSDT-aggTrades-2022-08-10.zip`)).toMatch(/^\d+,/);
  });

  it('the dates are configurable', async () => {
    const s = await startSim({ archive: { headerFrom: { klines: '2023-01-01' } } });
    const first = async (p: string) => (await rowsAt(p, s))[0]![0];
    expect(await first(`${UM}/daily/klines/BTCUSDT/1d/BTCUSDT-1d-2022-12-31.zip`)).toBe(
      String(D(2022, 11, 31)),
    );
    expect(await first(`${UM}/daily/klines/BTCUSDT/1d/BTCUSDT-1d-2023-01-01.zip`)).toBe('open_time');
    expect(await first(`${UM}/daily/aggTrades/BTCUSDT/BTCUSDT-aggTrades-2022-08-11.zip`)).toBe(
      'agg_trade_id',
    );
  });
});

describe('CHECKSUM and determinism', () => {
  const PATH = `${SPOT}/daily/klines/BTCUSDT/1m/BTCUSDT-1m-2024-01-05.zip`;

  it('is `<sha256>␠␠<name>` without a newline, the hash of the zip served; the zip then comes from cache', async () => {
    const res = await sim.get(`${PATH}.CHECKSUM`);
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).toMatch(/^[0-9a-f]{64} {2}BTCUSDT-1m-2024-01-05\.zip$/);
    const zipRes = await sim.get(PATH);
    // Generated once for the CHECKSUM and kept: served with its length.
    const zip = new Uint8Array(await zipRes.arrayBuffer());
    expect(zipRes.headers.get('content-length')).toBe(String(zip.length));
    expect(text).toBe(`${sha256(zip)}  BTCUSDT-1m-2024-01-05.zip`);
  });

  it('the same file is byte-identical on every download and every generation', async () => {
    const a = await download(PATH);
    const b = await download(PATH);
    const fresh = await startSim();
    const c = await download(PATH, fresh);
    expect(Buffer.compare(a, b)).toBe(0);
    expect(Buffer.compare(a, c)).toBe(0);
  });

  it('a file too large to cache is streamed, and its CHECKSUM (hash only) still matches', async () => {
    const s = await startSim({ archive: { cache: { maxFileBytes: 0 } } });
    const path = `${SPOT}/monthly/klines/ETHUSDT/5m/ETHUSDT-5m-2024-01.zip`;
    const sum = await (await s.get(`${path}.CHECKSUM`)).text();
    const res = await s.get(path);
    expect(res.headers.get('content-length')).toBeNull();
    const zip = new Uint8Array(await res.arrayBuffer());
    expect(sum).toBe(`${sha256(zip)}  ETHUSDT-5m-2024-01.zip`);
    expect(Buffer.compare(zip, await download(path))).toBe(0);
    expect(csvOf(zip, 'ETHUSDT-5m-2024-01.zip').length).toBe(31 * 288);
  });
});

describe('publication, listing and names', () => {
  const day = (d: string) => `${SPOT}/daily/klines/BTCUSDT/1m/BTCUSDT-1m-${d}.zip`;

  it('a daily file appears at 00:00 UTC after its day', async () => {
    expect(await status(day('2025-06-20'))).toBe(200);
    expect(await status(day('2025-06-21'))).toBe(404);
    expect(await status(`${day('2025-06-21')}.CHECKSUM`)).toBe(404);
    try {
      clock = D(2025, 5, 22) - 1;
      expect(await status(day('2025-06-21'))).toBe(404);
      clock = D(2025, 5, 22);
      expect(await status(day('2025-06-21'))).toBe(200);
    } finally {
      clock = NOW;
    }
  });

  it('a monthly file appears on the first Monday of the next month', async () => {
    const may = `${SPOT}/monthly/klines/BTCUSDT/1h/BTCUSDT-1h-2025-05.zip`;
    expect(await status(may)).toBe(200);
    expect(await status(`${SPOT}/monthly/klines/BTCUSDT/1h/BTCUSDT-1h-2025-06.zip`)).toBe(404);
    try {
      // June 2025 starts on a Sunday: the first Monday is the 2nd.
      clock = D(2025, 5, 2) - 1;
      expect(await status(may)).toBe(404);
      expect(await status(day('2025-05-31'))).toBe(200);
      clock = D(2025, 5, 2);
      expect(await status(may)).toBe(200);
    } finally {
      clock = NOW;
    }
  });

  it('nothing before listing; the listing day starts at the listing time', async () => {
    // spot BTCUSDT lists 2017-08-17 04:00 UTC.
    expect(await status(day('2017-08-16'))).toBe(404);
    expect(await status(`${SPOT}/monthly/klines/BTCUSDT/1m/BTCUSDT-1m-2017-07.zip`)).toBe(404);
    const rows = await rowsAt(day('2017-08-17'));
    expect(rows[0]![0]).toBe(String(D(2017, 7, 17, 4)));
    expect(rows.length).toBe(20 * 60);
  });

  it('404 with S3’s NoSuchKey body for unknown symbols, markets, types and malformed names', async () => {
    const res = await sim.get(`${SPOT}/daily/klines/XRPUSDT/1m/XRPUSDT-1m-2024-01-02.zip`);
    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toBe('application/xml');
    expect(await res.text()).toBe(
      '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message><Key>data/spot/daily/klines/XRPUSDT/1m/XRPUSDT-1m-2024-01-02.zip</Key></Error>',
    );
    for (const path of [
      `${UM}/daily/klines/ETHBTC/1m/ETHBTC-1m-2024-01-02.zip`,
      `/data/futures/cm/daily/klines/BTCUSDT/1m/BTCUSDT-1m-2024-01-02.zip`,
      `${UM}/daily/markPriceKlines/BTCUSDT/1m/BTCUSDT-1m-2024-01-02.zip`,
      `${SPOT}/daily/klines/BTCUSDT/1m/ETHUSDT-1m-2024-01-02.zip`,
      `${SPOT}/daily/klines/BTCUSDT/1m/BTCUSDT-5m-2024-01-02.zip`,
      `${SPOT}/daily/klines/BTCUSDT/1m/BTCUSDT-1m-2024-02-30.zip`,
      `${SPOT}/daily/klines/BTCUSDT/1m/BTCUSDT-1m-2024-01.zip`,
      `${SPOT}/monthly/klines/BTCUSDT/1m/BTCUSDT-1m-2024-01-02.zip`,
      `${SPOT}/daily/trades/BTCUSDT/1m/BTCUSDT-trades-2024-01-02.zip`,
      `${SPOT}/daily/trades/BTCUSDT/BTCUSDT-aggTrades-2024-01-02.zip`,
      `${SPOT}/daily/klines/BTCUSDT/1m/BTCUSDT-1m-2024-01-02.csv`,
      `${SPOT}/daily/klines/BTCUSDT/1m/`,
    ])
      expect([path, await status(path)]).toEqual([path, 404]);
  });
});

describe('faults', () => {
  it('a missing daily file: every daily file of that symbol and day, in the markets named', async () => {
    for (const path of [
      `${SPOT}/daily/klines/BTCUSDT/1m/BTCUSDT-1m-2024-01-03.zip`,
      `${SPOT}/daily/klines/BTCUSDT/1m/BTCUSDT-1m-2024-01-03.zip.CHECKSUM`,
      `${SPOT}/daily/trades/BTCUSDT/BTCUSDT-trades-2024-01-03.zip`,
      `${UM}/daily/aggTrades/BTCUSDT/BTCUSDT-aggTrades-2024-01-03.zip`,
      `${UM}/daily/klines/ETHUSDT/1d/ETHUSDT-1d-2024-01-03.zip`,
    ])
      expect([path, await status(path)]).toEqual([path, 404]);
    for (const path of [
      `${SPOT}/daily/klines/ETHUSDT/1d/ETHUSDT-1d-2024-01-03.zip`,
      `${SPOT}/daily/klines/BTCUSDT/1d/BTCUSDT-1d-2024-01-04.zip`,
      `${SPOT}/monthly/klines/BTCUSDT/1d/BTCUSDT-1d-2024-01.zip`,
    ])
      expect([path, await status(path)]).toEqual([path, 200]);
  });

  it('a bad CHECKSUM: well-formed, but not the hash of the zip', async () => {
    const path = `${SPOT}/daily/klines/BTCUSDT/1m/BTCUSDT-1m-2024-01-04.zip`;
    const sum = await (await sim.get(`${path}.CHECKSUM`)).text();
    expect(sum).toMatch(/^[0-9a-f]{64} {2}BTCUSDT-1m-2024-01-04\.zip$/);
    const zip = await download(path);
    expect(sum.slice(0, 64)).not.toBe(sha256(zip));
    expect(csvOf(zip, 'BTCUSDT-1m-2024-01-04.zip').length).toBe(1440);
    const other = await download(`${SPOT}/daily/klines/BTCUSDT/1h/BTCUSDT-1h-2024-01-04.zip`);
    expect(
      await (await sim.get(`${SPOT}/daily/klines/BTCUSDT/1h/BTCUSDT-1h-2024-01-04.zip.CHECKSUM`)).text(),
    ).toBe(`${sha256(other)}  BTCUSDT-1h-2024-01-04.zip`);
  });

  it('a monthly file not published yet although its month is over', async () => {
    expect(await status(`${SPOT}/monthly/klines/BTCUSDT/1m/BTCUSDT-1m-2024-03.zip`)).toBe(404);
    expect(await status(`${SPOT}/monthly/aggTrades/BTCUSDT/BTCUSDT-aggTrades-2024-03.zip.CHECKSUM`)).toBe(
      404,
    );
    expect(await status(`${SPOT}/monthly/klines/BTCUSDT/1d/BTCUSDT-1d-2024-02.zip`)).toBe(200);
    expect(await status(`${SPOT}/daily/klines/BTCUSDT/1d/BTCUSDT-1d-2024-03-05.zip`)).toBe(200);
    expect(await status(`${UM}/monthly/klines/BTCUSDT/1d/BTCUSDT-1d-2024-03.zip`)).toBe(404);
    expect(await status(`${SPOT}/monthly/klines/ETHUSDT/1d/ETHUSDT-1d-2024-03.zip`)).toBe(200);
  });

  it('slow downloads: each response paced to bytesPerSecond, generated or cached', async () => {
    const bps = 200_000;
    const slow = await startSim({ archive: { bytesPerSecond: bps } });
    const path = `${SPOT}/daily/klines/BTCUSDT/1m/BTCUSDT-1m-2024-01-06.zip`;
    const fast = await download(path);
    const timed = async () => {
      const t0 = performance.now();
      const zip = await download(path, slow);
      return { ms: performance.now() - t0, zip };
    };
    const generated = await timed();
    const cached = await timed();
    const t0 = performance.now();
    await download(path);
    const unthrottledMs = performance.now() - t0;
    // The last piece (bps/20 bytes) may leave at once; everything before it is paced.
    const floorMs = ((fast.length - bps / 20) / bps) * 1000;
    expect(fast.length).toBeGreaterThan(50_000);
    expect(generated.ms).toBeGreaterThanOrEqual(floorMs);
    expect(cached.ms).toBeGreaterThanOrEqual(floorMs);
    expect(unthrottledMs).toBeLessThan(floorMs);
    expect(Buffer.compare(generated.zip, fast)).toBe(0);
    expect(Buffer.compare(cached.zip, fast)).toBe(0);
  });
});

describe('outside the weight budget, counted in /sim/stats', () => {
  it('archive requests carry no weight headers and pass while REST is limited', async () => {
    const s = await startSim({ weightLimit: 2 });
    expect((await s.get('/api/v3/klines?symbol=BTCUSDT&interval=1m&limit=1')).status).toBe(200);
    expect((await s.get('/api/v3/klines?symbol=BTCUSDT&interval=1m&limit=1')).status).toBe(429);
    const res = await s.get(`${SPOT}/daily/klines/BTCUSDT/1d/BTCUSDT-1d-2024-01-02.zip`);
    expect(res.status).toBe(200);
    expect(res.headers.get('x-mbx-used-weight-1m')).toBeNull();
    await res.arrayBuffer();
    await (await s.get(`${SPOT}/daily/klines/BTCUSDT/1d/BTCUSDT-1d-2024-01-02.zip.CHECKSUM`)).text();
    await (await s.get(`${UM}/monthly/trades/BTCUSDT/BTCUSDT-trades-2099-01.zip`)).text();
    await (await s.get('/data/futures/cm/daily/klines/BTCUSD_PERP/1m/x.zip')).text();
    const stats = await s.json<{ archive: unknown; requests: number }>('/sim/stats');
    expect(stats.requests).toBe(2);
    expect(stats.archive).toEqual({
      zip: 3,
      checksum: 1,
      notFound: 2,
      byKind: { 'spot/daily/klines': 2, 'futures/um/monthly/trades': 1, other: 1 },
    });
  });
});

describe('SimEnv SIM_ARCHIVE_*', () => {
  const load = (env: Record<string, string>) => loadConfig(SimEnv, env).exchange.archive;

  it('defaults: no faults, unthrottled, binance.md §5 header dates', () => {
    expect(load({})).toEqual({
      missingDaily: [],
      unpublishedMonthly: [],
      badChecksum: [],
      zipLevel: 6,
      bytesPerSecond: 0,
      headerFrom: { klines: '2022-05-01', trades: '2022-08-11', aggTrades: '2022-08-11' },
      cache: { maxBytes: 64 * 1024 * 1024, maxFileBytes: 8 * 1024 * 1024 },
    });
  });

  it('reads every variable', () => {
    expect(
      load({
        SIM_ARCHIVE_MISSING_DAILY: 'BTCUSDT:2024-01-03, usdm:ETHUSDT:2024-02-01',
        SIM_ARCHIVE_UNPUBLISHED_MONTHLY: 'spot:BTCUSDT:2024-03',
        SIM_ARCHIVE_BAD_CHECKSUM: 'BTCUSDT-1m-2024-01-04.zip,usdm:BTCUSDT-trades-2024-01.zip',
        SIM_ARCHIVE_BYTES_PER_SECOND: '1000000',
        SIM_ARCHIVE_ZIP_LEVEL: '1',
        SIM_ARCHIVE_HEADER_FROM: 'klines=2022-06-01,aggTrades=2022-09-01',
      }),
    ).toMatchObject({
      missingDaily: ['BTCUSDT:2024-01-03', 'usdm:ETHUSDT:2024-02-01'],
      unpublishedMonthly: ['spot:BTCUSDT:2024-03'],
      badChecksum: ['BTCUSDT-1m-2024-01-04.zip', 'usdm:BTCUSDT-trades-2024-01.zip'],
      bytesPerSecond: 1_000_000,
      zipLevel: 1,
      headerFrom: { klines: '2022-06-01', trades: '2022-08-11', aggTrades: '2022-09-01' },
    });
  });

  it('names each bad variable, all at once', () => {
    let problems: string[] = [];
    try {
      load({
        SIM_ARCHIVE_MISSING_DAILY: 'BTCUSDT-2024-01-03',
        SIM_ARCHIVE_UNPUBLISHED_MONTHLY: 'BTCUSDT:2024',
        SIM_ARCHIVE_BAD_CHECKSUM: 'BTCUSDT-1m-2024-01-04.csv',
        SIM_ARCHIVE_BYTES_PER_SECOND: 'fast',
        SIM_ARCHIVE_ZIP_LEVEL: '10',
        SIM_ARCHIVE_HEADER_FROM: 'klines=May',
      });
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      problems = (e as ConfigError).problems;
    }
    expect(problems.map((p) => p.slice(0, p.indexOf(':')))).toEqual([
      'SIM_ARCHIVE_MISSING_DAILY.0',
      'SIM_ARCHIVE_UNPUBLISHED_MONTHLY.0',
      'SIM_ARCHIVE_BAD_CHECKSUM.0',
      'SIM_ARCHIVE_BYTES_PER_SECOND',
      'SIM_ARCHIVE_ZIP_LEVEL',
      'SIM_ARCHIVE_HEADER_FROM',
    ]);
    expect(problems[0]).toMatch(/expected e\.g\. BTCUSDT:2024-01-03/);
    expect(problems[5]).toMatch(/cannot read "klines=May"/);
    // A well-formed date that is not one is caught by ExchangeConfig, under the same name.
    expect(() => load({ SIM_ARCHIVE_HEADER_FROM: 'trades=2022-13-45' })).toThrow(
      /SIM_ARCHIVE_HEADER_FROM\.trades: not a date/,
    );
  });
});
