/**
 * Malformed records and malformed events, in both modes, while a real backfill runs: the platform
 * in this process (so the test can publish on its bus as a broken producer would). Bad rows of a
 * batch are dead-lettered one by one with their index and reason and the good rows of the same
 * batch stored once; an event that is not a data batch, and a queue-event that is not one, are
 * dead-lettered whole with the reason; the backfill beside them completes with every candle.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import type { BusEvent, EventBus, Subscription } from '../../shared/bus/event-bus.ts';
import { EventTypes, Topics } from '../../shared/contracts/events.ts';
import { makeEvent } from '../../shared/runtime/cloudevents.ts';
import { loadConfig } from '../../shared/runtime/config.ts';
import { PlatformConfig } from '../../functions/platform/config.ts';
import { startPlatform } from '../../functions/platform/platform.ts';
import {
  BACKFILL_SYMBOLS,
  DAY,
  compareKlines,
  driveToEnd,
  logger,
  report,
  sleep,
  startSim,
  submit,
  type Row,
} from './harness.ts';

const rows: Row[] = [];
afterAll(() => report('malformed', rows));
const brokers = process.env['KAFKA_BROKERS'] ?? '';

const GOOD = [
  1704067200000,
  '100.00',
  '101.00',
  '99.00',
  '100.50',
  '1.5',
  1704067259999,
  '150.75',
  3,
  '0.7',
  '70.35',
  '0',
];

/** Collects what reaches the dead-letter topic from now on. */
async function deadLetters(bus: EventBus, groupId: string): Promise<{ dead: BusEvent[]; sub: Subscription }> {
  const dead: BusEvent[] = [];
  const sub = await bus.subscribe({
    groupId,
    topics: [Topics.deadLetter],
    from: 'latest',
    handler: (m) => {
      dead.push(m.event);
      return Promise.resolve();
    },
  });
  return { dead, sub };
}

describe.each([
  ['embedded', ''],
  ['kafka', brokers],
] as const)('malformed records and events (%s mode)', (mode, kafka) => {
  it.skipIf(mode === 'kafka' && kafka === '')(
    'dead-letters each with its reason, stores the good rows once, and the backfill beside completes exactly',
    { timeout: 120_000 },
    async () => {
      const t0 = performance.now();
      const dir = await mkdtemp(path.join(tmpdir(), 'sf-faults-malformed-'));
      const sqlitePath = path.join(dir, 'streamforge.sqlite');
      const sim = await startSim({ latencyMs: 20 });
      const ws = sim.url.replace(/^http/, 'ws');
      const platform = await startPlatform({
        cfg: loadConfig(PlatformConfig, {
          PORT: '0',
          SQLITE_PATH: sqlitePath,
          LOG_LEVEL: 'silent',
          SHUTDOWN_GRACE_MS: '2000',
          KAFKA_BROKERS: kafka,
          BINANCE_API_URL: sim.url,
          BINANCE_FAPI_URL: sim.url,
          BINANCE_ARCHIVE_URL: sim.url,
          BINANCE_WS_URL: ws,
          BINANCE_FWS_URL: `${ws}/usdm`,
        }),
        logger,
      });
      const { dead, sub } = await deadLetters(platform.bus, `faults-dead-letters-${Date.now()}`);
      try {
        await sleep(kafka === '' ? 0 : 3000); // the group has joined before anything is dead-lettered
        const from = Date.UTC(2024, 6, 1) + (mode === 'kafka' ? 2 * DAY : 0);
        const to = from + DAY;
        const wfs = await submit(platform.url, {
          symbols: BACKFILL_SYMBOLS,
          type: 'api_candles_1m',
          start: new Date(from).toISOString(),
          end: new Date(to).toISOString(),
        });
        // A batch with one good row and two bad ones (a producer with a bug).
        const symbol = mode === 'kafka' ? 'FAULTKUSDT' : 'FAULTEUSDT';
        await platform.bus.publish(Topics.data('kline'), [
          {
            key: symbol,
            event: makeEvent({
              type: EventTypes.data('kline'),
              source: '/streamforge/faults',
              data: {
                kind: 'kline',
                market: 'spot',
                symbol,
                dataset: 'klines_1m',
                collection: 'market_klines',
                seq: 0,
                rows: [GOOD, ['not', 'a', 'kline'], [...GOOD.slice(0, 4), 'NaN', ...GOOD.slice(5)]],
              },
            }),
          },
          // An event that is no data batch at all.
          {
            key: symbol,
            event: makeEvent({
              type: EventTypes.data('kline'),
              source: '/streamforge/faults',
              data: 'garbage',
            }),
          },
        ]);
        // A queue-event that is no queue-event.
        await platform.bus.publish(Topics.events, [
          {
            key: symbol,
            event: makeEvent({
              type: 'io.streamforge.queue.event',
              source: '/streamforge/faults',
              data: { status: 'exploded' },
            }),
          },
        ]);
        const ends = await driveToEnd(
          platform.url,
          wfs.map((w) => w.queue_id),
          [],
          60_000,
        );
        const deadline = Date.now() + 20_000;
        while (dead.length < 5 && Date.now() < deadline) await sleep(100);
        const tally = await compareKlines(sim, sqlitePath, BACKFILL_SYMBOLS, from, to);
        const db = new Database(sqlitePath, { readonly: true });
        const good = db
          .prepare('SELECT count(*) FROM market_klines WHERE series = ?')
          .pluck()
          .get(`spot:${symbol}:klines_1m`) as number;
        db.close();
        const records = dead.filter((e) => (e.data as { reason?: string }).reason === 'invalid_record');
        const whole = dead.filter((e) => (e.data as { reason?: string }).reason !== 'invalid_record');
        const reasons = [...new Set(dead.map((e) => JSON.stringify(e.data).slice(0, 80)))];
        rows.push({
          scenario: 'malformed records + events',
          mode,
          faults: '1 batch with 2 bad rows of 3, 1 data event that is no batch, 1 queue-event that is none',
          ...tally,
          workflows: `${ends.right}/${ends.total} completed`,
          seconds: Math.round((performance.now() - t0) / 100) / 10,
          notes: `dead letters: ${records.length} invalid_record (indexes ${records.map((e) => (e.data as { index: number }).index).join(',')}), ${whole.length} whole events; good row stored ${good}×`,
        });
        expect(records.map((e) => (e.data as { index: number }).index).sort()).toEqual([1, 2]);
        expect(good).toBe(1);
        // Whole malformed events: the data event no batch (refused by the connector) and the
        // queue-event that is none (refused by the manager and the connector), each with the 400.
        expect(whole.map((e) => e.extensions?.['knativeerrorcode'])).toEqual(['400', '400', '400']);
        expect(whole.map((e) => e.extensions?.['knativeerrordest'])).toHaveLength(3);
        void reasons;
        expect(tally).toMatchObject({ missing: 0, duplicated: 0 });
        expect(tally.stored).toBe(tally.expected);
        expect(ends.right).toBe(ends.total);
      } finally {
        await sub.close();
        await platform.close();
        await sim.close();
        await rm(dir, { recursive: true, force: true });
      }
    },
  );
});

/**
 * An event no function can take at all (a data event that is no batch) is refused with 400 by its
 * function and must reach the dead-letter topic through the declared sink. Found by this suite:
 * the local runner once sent the dead letter to the in-process function a second time (a default
 * parameter turned the sink's "no direct path" back into the function's), which refused it again,
 * and the event was dropped (runner stats: dropped 3, deadLettered 0).
 */
describe('malformed whole events (embedded)', () => {
  it('are kept on the dead-letter topic with the reason', { timeout: 60_000 }, async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'sf-faults-dl-'));
    const platform = await startPlatform({
      cfg: loadConfig(PlatformConfig, {
        PORT: '0',
        SQLITE_PATH: path.join(dir, 'streamforge.sqlite'),
        LOG_LEVEL: 'silent',
        KAFKA_BROKERS: '',
      }),
      logger,
    });
    const { dead, sub } = await deadLetters(platform.bus, 'faults-whole-dead-letters');
    try {
      await platform.bus.publish(Topics.data('kline'), [
        { key: 'X', event: makeEvent({ type: EventTypes.data('kline'), source: '/f', data: 'garbage' }) },
      ]);
      const deadline = Date.now() + 5000;
      while (
        platform.runner.stats().dropped + platform.runner.stats().deadLettered < 1 &&
        Date.now() < deadline
      )
        await sleep(100);
      await sleep(300);
      expect(platform.runner.stats()).toMatchObject({ dropped: 0, deadLettered: 1 });
      expect(dead).toHaveLength(1);
    } finally {
      await sub.close();
      await platform.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
