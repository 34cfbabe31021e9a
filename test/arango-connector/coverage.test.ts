import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { missingRanges, readCoverage } from '../../shared/store/coverage.ts';
import type { Store } from '../../shared/store/store.ts';
import { createConnector, type Connector } from '../../functions/arango-connector/app.ts';
import { KLINES, RecordingBus, T0, deliver, klineBatch, logger, tempSqlite } from './helpers.ts';

const MINUTE = 60_000;
const SERIES = 'spot:BTCUSDT:klines_1m';

let store: Store;
let cleanup: () => Promise<void>;
let connector: Connector;

beforeEach(() => {
  ({ store, cleanup } = tempSqlite());
  connector = createConnector({ store, bus: new RecordingBus(), logger });
});

afterEach(async () => {
  await connector.stop();
  await cleanup();
});

describe('coverage ledger', () => {
  it('records what each stored batch covers, so a later workflow fetches only the gap', async () => {
    // Minutes [0, 100) and [200, 300) stored; the exchange reported no data for [150, 160).
    await deliver(connector.app, klineBatch(0, 100));
    await deliver(connector.app, klineBatch(2, 100));
    const withGap = klineBatch(1, 10, { rows: [] });
    withGap.data = {
      ...withGap.data,
      covers: { from: T0 + 150 * MINUTE, to: T0 + 160 * MINUTE },
      gaps: [{ from: T0 + 150 * MINUTE, to: T0 + 160 * MINUTE }],
    };
    expect((await deliver(connector.app, withGap)).status).toBe(202);

    const cov = await readCoverage(store, KLINES, SERIES);
    expect(cov.covered).toEqual([
      { from: T0, to: T0 + 100 * MINUTE },
      { from: T0 + 150 * MINUTE, to: T0 + 160 * MINUTE },
      { from: T0 + 200 * MINUTE, to: T0 + 300 * MINUTE },
    ]);
    expect(cov.gaps).toEqual([{ from: T0 + 150 * MINUTE, to: T0 + 160 * MINUTE }]);

    // A second workflow over minutes [50, 350) needs [100, 150), [160, 200) and [300, 350) only.
    const want = { from: T0 + 50 * MINUTE, to: T0 + 350 * MINUTE };
    const { missing, skipped } = missingRanges(want, cov);
    expect(missing).toEqual([
      { from: T0 + 100 * MINUTE, to: T0 + 150 * MINUTE },
      { from: T0 + 160 * MINUTE, to: T0 + 200 * MINUTE },
      { from: T0 + 300 * MINUTE, to: T0 + 350 * MINUTE },
    ]);
    expect(skipped).toBe(160 * MINUTE);

    // Once the gap batch is stored, only the tail is left.
    await deliver(connector.app, klineBatch(1, 100));
    const after = missingRanges(want, await readCoverage(store, KLINES, SERIES));
    expect(after.missing).toEqual([{ from: T0 + 300 * MINUTE, to: T0 + 350 * MINUTE }]);
  });

  it('does not mark a range covered when its batch was not stored', async () => {
    const bus = new RecordingBus();
    bus.down = true;
    const c = createConnector({ store, bus, logger });
    // The dead letter cannot be published: the batch fails before the ledger is touched.
    const event = klineBatch(0, 10, { rows: [{ junk: 1 }] });
    expect((await deliver(c.app, event)).status).toBe(503);
    expect((await readCoverage(store, KLINES, SERIES)).covered).toEqual([]);
    await c.stop();
  });
});
