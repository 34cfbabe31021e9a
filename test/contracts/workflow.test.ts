import { describe, expect, it } from 'vitest';
import {
  QueueCommand,
  QueueEvent,
  QueueId,
  Workflow,
  WorkflowType,
  planFor,
  type WorkflowPlan,
} from '../../shared/contracts/workflow.ts';

describe('planFor(): which function loads what', () => {
  const table: [string, WorkflowPlan][] = [
    ['api_candles_5m', { target: 'loader-api', kind: 'kline', dataset: 'klines_5m', interval: '5m' }],
    ['api_candles_1M', { target: 'loader-api', kind: 'kline', dataset: 'klines_1M', interval: '1M' }],
    ['bulk_candles_1h', { target: 'loader-bulk', kind: 'kline', dataset: 'klines_1h', interval: '1h' }],
    ['ws_candles_1m', { target: 'loader-ws', kind: 'kline', dataset: 'klines_1m', interval: '1m' }],
    ['api_trades', { target: 'loader-api', kind: 'trade', dataset: 'trades', interval: null }],
    ['api_agg_trades', { target: 'loader-api', kind: 'agg_trade', dataset: 'agg_trades', interval: null }],
    ['api_funding', { target: 'loader-api', kind: 'funding', dataset: 'funding', interval: null }],
    ['ws_trades', { target: 'loader-ws', kind: 'trade', dataset: 'trades', interval: null }],
    ['ws_agg_trades', { target: 'loader-ws', kind: 'agg_trade', dataset: 'agg_trades', interval: null }],
    ['ws_depth', { target: 'loader-ws', kind: 'depth', dataset: 'depth', interval: null }],
    ['ws_book_ticker', { target: 'loader-ws', kind: 'book_ticker', dataset: 'book_ticker', interval: null }],
    ['graph_build', { target: 'graph-builder', kind: null, dataset: null, interval: null }],
    ['gnn_train', { target: 'gnn-trainer', kind: null, dataset: null, interval: null }],
  ];
  for (const [type, plan] of table) {
    it(type, () => {
      expect(planFor(WorkflowType.parse(type))).toEqual(plan);
    });
  }

  it('unknown workflow types are rejected at the edge', () => {
    for (const t of ['api_candles_1D', 'api_candles_', 'candles_1m', 'api_klines_1m']) {
      expect(WorkflowType.safeParse(t).success, t).toBe(false);
    }
  });
});

const queueId = 'wf-btcusdt-api_candles_5m-20240801-a1b2c3';

const command = {
  command: 'start',
  queue_id: queueId,
  target: 'loader-api',
  symbol: 'BTCUSDT',
  type: 'api_candles_5m',
  time_range: '2024-08-01:2024-08-02',
  start: 1722470400000,
  end: 1722556800000,
  kafka_topic: 'binance-kline',
  collection_name: 'market_klines',
  telemetry_id: 'tel-1',
  timestamp: '2024-08-01T10:00:00.000Z',
};

describe('QueueCommand', () => {
  it("accepts the seed's command and defaults market to spot", () => {
    expect(QueueCommand.parse(command)).toMatchObject({ ...command, market: 'spot' });
  });

  const bad: [string, Record<string, unknown>, PropertyKey[][]][] = [
    ['an unknown command', { command: 'pause' }, [['command']]],
    ['a queue id in another shape', { queue_id: 'job-42' }, [['queue_id']]],
    [
      'a topic name with a space and a lower-case symbol',
      { kafka_topic: 'my topic', symbol: 'btcusdt' },
      [['symbol'], ['kafka_topic']],
    ],
    ['a timestamp that is not ISO 8601', { timestamp: '01/08/2024' }, [['timestamp']]],
    ['a target that is not a function', { target: 'rm -rf' }, [['target']]],
  ];
  for (const [name, patch, paths] of bad) {
    it(`rejects ${name}`, () => {
      const r = QueueCommand.safeParse({ ...command, ...patch });
      expect(r.error?.issues.map((i) => i.path)).toEqual(paths);
    });
  }

  it('lists every missing field', () => {
    const r = QueueCommand.safeParse({ command: 'stop', queue_id: queueId });
    const missing = r.error?.issues.map((i) => i.path[0]);
    expect(missing).toEqual([
      'target',
      'symbol',
      'type',
      'time_range',
      'start',
      'end',
      'kafka_topic',
      'collection_name',
      'telemetry_id',
      'timestamp',
    ]);
  });
});

describe('QueueEvent', () => {
  const event = {
    queue_id: queueId,
    producer: 'loader-api',
    symbol: 'BTCUSDT',
    type: 'api_candles_5m',
    status: 'loading',
    timestamp: '2024-08-01T10:00:05Z',
  };

  it("accepts the seed's minimal event and fills the defaults", () => {
    expect(QueueEvent.parse(event)).toMatchObject({
      ...event,
      message: '',
      records_written: 0,
      finished: false,
    });
  });

  it('accepts a final loader event with batches and gaps', () => {
    const final = {
      ...event,
      status: 'completed',
      finished: true,
      batches_published: 12,
      gaps: [{ from: 1, to: 2 }],
      seq: 7,
    };
    expect(QueueEvent.parse(final)).toMatchObject({ batches_published: 12, seq: 7 });
  });

  it('keeps exchange errors with their code', () => {
    const e = QueueEvent.parse({
      ...event,
      status: 'error',
      error: { code: -1121, message: 'Invalid symbol.', source: 'loader-api' },
    });
    expect(e.error).toEqual({ code: -1121, message: 'Invalid symbol.', source: 'loader-api' });
  });

  const bad: [string, Record<string, unknown>, PropertyKey[]][] = [
    ['an unknown status', { status: 'done' }, ['status']],
    ['negative records_written', { records_written: -1 }, ['records_written']],
    ['a percent above 100', { progress: { percent: 101 } }, ['progress', 'percent']],
    ['an empty producer', { producer: '' }, ['producer']],
  ];
  for (const [name, patch, path] of bad) {
    it(`rejects ${name}`, () => {
      expect(QueueEvent.safeParse({ ...event, ...patch }).error?.issues.map((i) => i.path)).toEqual([path]);
    });
  }
});

describe('Workflow', () => {
  const wf = {
    queue_id: queueId,
    symbol: 'BTCUSDT',
    market: 'spot',
    type: 'api_candles_5m',
    target: 'loader-api',
    time_range: '2024-08-01:2024-08-02',
    start: 1722470400000,
    end: 1722556800000,
    status: 'pending',
    kafka_topic: 'binance-kline',
    collection_name: 'market_klines',
    telemetry_id: 'tel-1',
    records_written: 0,
    attempt: 1,
    created_at: '2024-08-01T10:00:00Z',
    updated_at: '2024-08-01T10:00:00Z',
    last_event_at: '2024-08-01T10:00:00Z',
    timeline: [
      { at: '2024-08-01T10:00:00Z', producer: 'queue-manager', status: 'pending', message: 'created' },
    ],
  };

  it('accepts a stored workflow', () => {
    expect(Workflow.parse(wf)).toEqual(wf);
  });

  it('rejects attempt 0 and a timeline entry with an unknown status', () => {
    const r = Workflow.safeParse({ ...wf, attempt: 0, timeline: [{ ...wf.timeline[0], status: 'running' }] });
    expect(r.error?.issues.map((i) => i.path)).toEqual([['attempt'], ['timeline', 0, 'status']]);
  });
});

describe('QueueId', () => {
  it.each([
    ['wf-btcusdt-api_candles_5m-20240801-a1b2c3', true],
    ['wf-ethbtc-ws_depth-20250621-0f0f0f', true],
    ['wf-btcusdt-api_candles_1M-20240801-a1b2c3', true], // months keep their capital M
    ['wf-BTCUSDT-api_candles_5m-20240801-a1b2c3', false],
    ['wf-btcusdt-api_candles_5m-2024081-a1b2c3', false],
    ['wf-btcusdt-api_candles_5m-20240801-A1B2C3', false],
  ])('%s → %s', (id, ok) => {
    expect(QueueId.safeParse(id).success).toBe(ok);
  });
});
