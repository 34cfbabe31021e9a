/** A workflow and queue-events to fold, shared by the state-machine tests (fold, timeline). */
import type { QueueEvent, Workflow, WorkflowStatus } from '../../shared/contracts/workflow.ts';

export const T0 = Date.parse('2024-08-02T10:00:00Z');
export const QID = 'wf-btcusdt-api_candles_5m-20240801-a1b2c3';

/** A pending workflow created at T0. */
export function workflow(over: Partial<Workflow> = {}): Workflow {
  const at = new Date(T0).toISOString();
  return {
    queue_id: QID,
    symbol: 'BTCUSDT',
    market: 'spot',
    type: 'api_candles_5m',
    target: 'loader-api',
    time_range: '2024-08-01:2024-08-02',
    start: Date.parse('2024-08-01T00:00:00Z'),
    end: Date.parse('2024-08-02T00:00:00Z'),
    status: 'pending',
    kafka_topic: 'binance-kline',
    collection_name: 'market_klines',
    telemetry_id: 't-1',
    records_written: 0,
    attempt: 1,
    created_at: at,
    updated_at: at,
    last_event_at: at,
    timeline: [{ at, producer: 'queue-manager', status: 'pending', message: 'workflow created', attempt: 1 }],
    ...over,
  };
}

/** A loader-api queue-event of this workflow, stamped `ms` after T0. */
export function eventAt(status: WorkflowStatus, ms: number, over: Partial<QueueEvent> = {}): QueueEvent {
  return {
    queue_id: QID,
    producer: 'loader-api',
    symbol: 'BTCUSDT',
    type: 'api_candles_5m',
    status,
    message: '',
    records_written: 0,
    finished: false,
    timestamp: new Date(T0 + ms).toISOString(),
    attempt: 1,
    ...over,
  };
}
