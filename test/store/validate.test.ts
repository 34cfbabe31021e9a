import { describe, expect, it } from 'vitest';
import { InvalidInputError } from '../../shared/runtime/errors.ts';
import type { SeriesRecord } from '../../shared/store/store.ts';
import { prepareBatch, prepareColumns } from '../../shared/store/validate.ts';
import { kline } from './contract.ts';

describe('prepareColumns', () => {
  const S = 'spot:BTCUSDT:klines_1m';

  it('matches prepareBatch: same rows in the same order, repeated keys collapsed to the last', () => {
    const a = kline(S, 0, '1.0');
    const b = kline(S, 60_000);
    const a2 = { ...kline(S, 0, '2.0'), series: 'spot:BTCUSDT:other' };
    const batch = [a, b, a2, kline(S, 120_000)];
    const rows = prepareBatch(batch);
    expect(prepareColumns(batch)).toEqual({
      keys: rows.map((r) => r.key),
      series: rows.map((r) => r.series),
      times: rows.map((r) => r.time),
      json: rows.map((r) => r.json),
    });
    expect(rows.map((r) => r.json)).toEqual([a2, b, batch[3]!].map((r) => JSON.stringify(r.doc)));
  });

  it('rejects what prepareBatch rejects, with the same message', () => {
    const bad: unknown[] = [
      null,
      { ...kline(S, 0), key: 'has space' },
      { ...kline(S, 0), series: '' },
      { ...kline(S, 0), time: 1.5 },
      { ...kline(S, 0), doc: [] },
      { ...kline(S, 0), doc: { big: 10n } },
      { ...kline(S, 0), doc: { toJSON: () => undefined } },
    ];
    for (const r of bad) {
      const batch = [kline(S, 60_000), r] as SeriesRecord[];
      let message = '';
      expect(() => prepareBatch(batch)).toThrow(InvalidInputError);
      try {
        prepareBatch(batch);
      } catch (err) {
        message = (err as Error).message;
      }
      expect(() => prepareColumns(batch)).toThrow(message);
    }
  });
});
