/** Archive paths, periods and ranges: every case binance.md §5 names. */
import { describe, expect, it } from 'vitest';
import {
  archiveFileAt,
  archiveFileName,
  archivePath,
  archivePeriods,
  archiveRange,
  checksumPath,
  csvEntryName,
  hasDailyFiles,
  type ArchiveFile,
} from '../../shared/archive/archive-paths.ts';
import { KLINE_INTERVALS } from '../../shared/contracts/common.ts';
import { InvalidInputError } from '../../shared/runtime/errors.ts';

const f = (o: Partial<ArchiveFile>): ArchiveFile => ({
  market: 'spot',
  dataset: 'klines_1h',
  symbol: 'BTCUSDT',
  period: 'monthly',
  date: '2023-10',
  ...o,
});

describe('archive paths', () => {
  it.each([
    ['data/spot/monthly/klines/BTCUSDT/1h/BTCUSDT-1h-2023-10.zip', f({})],
    [
      'data/spot/daily/klines/BTCUSDT/1h/BTCUSDT-1h-2023-10-27.zip',
      f({ period: 'daily', date: '2023-10-27' }),
    ],
    ['data/spot/monthly/klines/BTCUSDT/1mo/BTCUSDT-1mo-2023-10.zip', f({ dataset: 'klines_1M' })],
    [
      'data/spot/daily/klines/BTCUSDT/1s/BTCUSDT-1s-2025-01-01.zip',
      f({ dataset: 'klines_1s', period: 'daily', date: '2025-01-01' }),
    ],
    [
      'data/futures/um/monthly/klines/BTCUSDT/1m/BTCUSDT-1m-2023-10.zip',
      f({ market: 'usdm', dataset: 'klines_1m' }),
    ],
    [
      'data/futures/um/monthly/klines/BTCUSDT/1mo/BTCUSDT-1mo-2023-10.zip',
      f({ market: 'usdm', dataset: 'klines_1M' }),
    ],
    [
      'data/spot/daily/aggTrades/BTCUSDT/BTCUSDT-aggTrades-2024-01-01.zip',
      f({ dataset: 'agg_trades', period: 'daily', date: '2024-01-01' }),
    ],
    [
      'data/spot/monthly/trades/BTCUSDT/BTCUSDT-trades-2024-01.zip',
      f({ dataset: 'trades', date: '2024-01' }),
    ],
    [
      'data/futures/um/daily/trades/BTCUSDT/BTCUSDT-trades-2024-01-01.zip',
      f({ market: 'usdm', dataset: 'trades', period: 'daily', date: '2024-01-01' }),
    ],
    [
      'data/futures/um/monthly/aggTrades/BTCUSDT/BTCUSDT-aggTrades-2024-01.zip',
      f({ market: 'usdm', dataset: 'agg_trades', date: '2024-01' }),
    ],
  ])('%s', (path, file) => {
    expect(archivePath(file)).toBe(path);
    expect(checksumPath(file)).toBe(`${path}.CHECKSUM`);
    expect(archiveFileName(file)).toBe(path.slice(path.lastIndexOf('/') + 1));
    expect(csvEntryName(file)).toBe(path.slice(path.lastIndexOf('/') + 1).replace('.zip', '.csv'));
  });

  it('daily files for 1s…1d, trades and aggTrades; 3d, 1w, 1M monthly only; 1s spot only', () => {
    const daily = KLINE_INTERVALS.filter((iv) => hasDailyFiles(`klines_${iv}`));
    expect(daily).toEqual(['1s', '1m', '3m', '5m', '15m', '30m', '1h', '2h', '4h', '6h', '8h', '12h', '1d']);
    expect(hasDailyFiles('trades') && hasDailyFiles('agg_trades')).toBe(true);
    expect(archivePeriods('spot', 'klines_1w')).toEqual(['monthly']);
    expect(archivePeriods('usdm', 'klines_1d')).toEqual(['daily', 'monthly']);
    expect(archivePeriods('spot', 'klines_1s')).toEqual(['daily', 'monthly']);
    expect(archivePeriods('usdm', 'klines_1s')).toEqual([]);
  });

  it.each([
    ['a daily 1w file', f({ dataset: 'klines_1w', period: 'daily', date: '2023-10-02' })],
    ['a daily 1M file', f({ dataset: 'klines_1M', period: 'daily', date: '2023-10-01' })],
    ['USD-M 1s', f({ market: 'usdm', dataset: 'klines_1s' })],
    ['a month that does not exist', f({ date: '2023-13' })],
    ['a day that does not exist', f({ period: 'daily', date: '2023-02-30' })],
    ['a month without its leading zero', f({ date: '2023-1' })],
    ['a daily date on a monthly file', f({ date: '2023-10-01' })],
    ['a symbol that is not one', f({ symbol: 'BTC/../../etc' })],
  ])('refuses %s', (_what, file) => {
    expect(() => archivePath(file)).toThrow(InvalidInputError);
  });

  it('ranges are UTC [start, end) of the day or month', () => {
    expect(archiveRange(f({ period: 'daily', date: '2025-01-01' }))).toEqual({
      start: Date.UTC(2025, 0, 1),
      end: Date.UTC(2025, 0, 2),
    });
    expect(archiveRange(f({ date: '2024-02' }))).toEqual({
      start: Date.UTC(2024, 1, 1),
      end: Date.UTC(2024, 2, 1),
    });
    expect(archiveRange(f({ date: '2023-12' }))).toEqual({
      start: Date.UTC(2023, 11, 1),
      end: Date.UTC(2024, 0, 1),
    });
  });

  it('finds the file holding a time', () => {
    const at = { market: 'spot', dataset: 'klines_1m', symbol: 'BTCUSDT' } as const;
    const lastMs = Date.UTC(2023, 10, 1) - 1;
    expect(archiveFileAt({ ...at, period: 'monthly' }, lastMs).date).toBe('2023-10');
    expect(archiveFileAt({ ...at, period: 'daily' }, lastMs).date).toBe('2023-10-31');
    expect(archiveFileAt({ ...at, period: 'daily' }, lastMs + 1).date).toBe('2023-11-01');
  });
});
