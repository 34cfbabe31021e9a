import { describe, expect, it } from 'vitest';
import {
  MAX_NOTES,
  type QueueEvent,
  type Workflow,
  type WorkflowStatus,
} from '../../shared/contracts/workflow.ts';
import {
  TIMELINE_MAX,
  boundTimeline,
  fold,
  isStalled,
  retry,
  stall,
  type TimelineEntry,
} from '../../functions/queue-manager/fold.ts';
import { T0, eventAt, workflow } from './fold-fixtures.ts';

let clock = 0;
/** Each event one second after the previous one. */
function ev(status: WorkflowStatus, over: Partial<QueueEvent> = {}): QueueEvent {
  clock += 1;
  return eventAt(status, clock * 1000, over);
}

/** Folds events in order, each at its own "now". */
function run(events: QueueEvent[], start = workflow()): Workflow {
  return events.reduce((wf, e, i) => fold(wf, e, T0 + (i + 1) * 1000), start);
}

const started = ev('started', { seq: 0 });
const loading1 = ev('loading', { seq: 1, progress: { pages: 1, records: 1000, percent: 10 } });
const loading2 = ev('loading', { seq: 2, progress: { pages: 5, records: 5000, percent: 50 } });
const sink1 = ev('loading', { producer: 'arango-connector', records_written: 1000 });
const sink2 = ev('loading', { producer: 'arango-connector', records_written: 5000 });
const completed = ev('completed', { producer: 'arango-connector', records_written: 5000, finished: true });
const exchangeError = ev('error', {
  seq: 3,
  finished: true,
  message: 'loader failed',
  error: { code: -1121, message: 'Invalid symbol.', source: '/api/v3/klines' },
});
const cancelled = ev('cancelled', { seq: 4, finished: true });

interface Row {
  name: string;
  start?: Workflow;
  events: QueueEvent[];
  status: WorkflowStatus;
  records: number;
  timeline: number; // entries after the initial one
  error?: Workflow['error'];
  percent?: number;
}

const retried = retry(workflow({ status: 'error', error: { code: 'stalled', message: 'x' } }), T0);

const table: Row[] = [
  {
    name: 'in order to completion',
    events: [started, loading1, sink1, loading2, sink2, completed],
    status: 'completed',
    records: 5000,
    timeline: 5, // sink2 merges into sink1's progress entry; loading1 is the transition, loading2 progress
    percent: 50,
  },
  {
    name: 'pending → loading skips started',
    events: [loading1],
    status: 'loading',
    records: 0,
    timeline: 1,
    percent: 10,
  },
  {
    name: 'late started after loading does not go back',
    events: [loading1, started],
    status: 'loading',
    records: 0,
    timeline: 2,
  },
  {
    name: 'duplicate events are folded once',
    events: [started, started, loading1, loading1, sink1, sink1],
    status: 'loading',
    records: 1000,
    timeline: 3,
  },
  {
    name: 'out-of-order progress keeps the maxima',
    events: [loading2, loading1, sink2, sink1],
    status: 'loading',
    records: 5000,
    timeline: 3, // loading2 the transition, loading1 the loader's progress, sink1 merges into sink2's
    percent: 50,
  },
  {
    name: 'terminal stays terminal: loading after completed',
    events: [completed, loading1],
    status: 'completed',
    records: 5000,
    timeline: 2,
  },
  {
    name: 'terminal stays terminal: error after completed',
    events: [sink2, completed, exchangeError],
    status: 'completed',
    records: 5000,
    timeline: 3,
  },
  {
    name: 'exchange error keeps its code and message',
    events: [started, exchangeError],
    status: 'error',
    records: 0,
    timeline: 2,
    error: { code: -1121, message: 'Invalid symbol.', source: '/api/v3/klines' },
  },
  {
    name: 'completed after error stays error',
    events: [exchangeError, completed],
    status: 'error',
    records: 5000,
    timeline: 2,
    error: { code: -1121, message: 'Invalid symbol.', source: '/api/v3/klines' },
  },
  {
    name: 'cancelled is terminal',
    events: [loading1, cancelled, completed],
    status: 'cancelled',
    records: 5000,
    timeline: 3,
  },
  {
    name: 'error without details gets a generic one',
    events: [ev('error', { producer: 'arango-connector', message: 'store down' })],
    status: 'error',
    records: 0,
    timeline: 1,
    error: { code: 'error', message: 'store down' },
  },
  {
    name: 'events of an older attempt are ignored',
    start: retried,
    events: [completed, exchangeError],
    status: 'pending',
    records: 0,
    timeline: 0,
  },
  {
    name: 'events of the current attempt after a retry apply',
    start: retried,
    events: [
      { ...started, attempt: 2 },
      { ...completed, attempt: 2 },
    ],
    status: 'completed',
    records: 5000,
    timeline: 2,
  },
  {
    name: 'events of another workflow are ignored',
    events: [{ ...started, queue_id: 'wf-ethusdt-api_candles_5m-20240801-000000' }],
    status: 'pending',
    records: 0,
    timeline: 0,
  },
  {
    name: 'a pending event never moves anything',
    events: [started, ev('pending')],
    status: 'started',
    records: 0,
    timeline: 2,
  },
];

describe('fold', () => {
  it.each(table)('$name', (row) => {
    const begin = row.start ?? workflow();
    const wf = run(row.events, begin);
    expect(wf.status).toBe(row.status);
    expect(wf.records_written).toBe(row.records);
    expect(wf.timeline.length - begin.timeline.length).toBe(row.timeline);
    if (row.error) expect(wf.error).toEqual(row.error);
    else if (row.status !== 'error') expect(wf.error).toBeUndefined();
    if (row.percent !== undefined) expect(wf.progress?.percent).toBe(row.percent);
  });

  it('every permutation of one run ends in the same state', () => {
    const events = [started, loading1, loading2, sink1, sink2, completed];
    const permutations = (xs: QueueEvent[]): QueueEvent[][] =>
      xs.length <= 1
        ? [xs]
        : xs.flatMap((x, i) => permutations([...xs.slice(0, i), ...xs.slice(i + 1)]).map((p) => [x, ...p]));
    for (const p of permutations(events)) {
      const wf = run(p);
      expect(wf.status).toBe('completed');
      expect(wf.records_written).toBe(5000);
      expect(wf.progress).toEqual({ pages: 5, records: 5000, percent: 50 });
    }
  });

  it('returns the same object when nothing changes', () => {
    const wf = run([started, loading1]);
    expect(fold(wf, loading1, T0 + 99_000)).toBe(wf);
    expect(fold(wf, { ...loading1, attempt: 7 }, T0 + 99_000)).toBe(wf);
  });

  it('stamps finished_at and last_event_at', () => {
    const wf = fold(workflow(), completed, T0 + 5000);
    expect(wf.finished_at).toBe(new Date(T0 + 5000).toISOString());
    expect(wf.last_event_at).toBe(new Date(T0 + 5000).toISOString());
  });
});

describe('timeline bound', () => {
  const entry = (i: number, status: WorkflowStatus = 'loading'): TimelineEntry => ({
    at: new Date(T0 + i).toISOString(),
    producer: 'p',
    status,
    message: String(i),
  });

  it('keeps the first entry and terminal ones, drops the oldest others', () => {
    const entries = [entry(0, 'pending'), entry(1), entry(2, 'error'), entry(3), entry(4), entry(5)];
    expect(boundTimeline(entries, 4).map((e) => e.message)).toEqual(['0', '2', '4', '5']);
  });

  it('fold keeps at most TIMELINE_MAX entries', () => {
    // One producer's progress merges into one entry, so it takes many producers to reach the cap.
    let wf = workflow();
    for (let i = 0; i < TIMELINE_MAX + 50; i++)
      wf = fold(wf, ev('loading', { producer: `loader-${i}`, seq: i }), T0 + i);
    // A fresh event: `completed` above is stamped before these and would sort before them.
    wf = fold(wf, ev('completed', { producer: 'arango-connector', finished: true }), T0 + 10_000_000);
    expect(wf.timeline).toHaveLength(TIMELINE_MAX);
    expect(wf.timeline[0]?.message).toBe('workflow created');
    expect(wf.timeline[1]).toMatchObject({ producer: 'loader-0', status: 'loading' }); // the transition
    expect(wf.timeline[2]?.producer).toBe('loader-53'); // 252 entries: loader-1 … loader-52 went first
    expect(wf.timeline.at(-1)?.status).toBe('completed');
  });
});

describe('stall and retry', () => {
  it('a silent non-terminal workflow stalls; a terminal one never does', () => {
    const wf = run([started]);
    const last = Date.parse(wf.last_event_at);
    expect(isStalled(wf, last + 60_000, 60_000)).toBe(false);
    const stalled = stall(wf, last + 60_001, 60_000);
    expect(stalled.status).toBe('error');
    expect(stalled.error?.code).toBe('stalled');
    expect(stall(stalled, last + 10_000_000, 60_000)).toBe(stalled);
  });

  it('silence counts from when the manager started watching', () => {
    const wf = run([started]);
    const last = Date.parse(wf.last_event_at);
    const restartedAt = last + 600_000;
    expect(isStalled(wf, restartedAt + 1000, 60_000, restartedAt)).toBe(false);
    expect(isStalled(wf, restartedAt + 60_001, 60_000, restartedAt)).toBe(true);
  });

  it('retry starts a fresh attempt and keeps the history', () => {
    const failed = run([started, sink1, exchangeError]);
    const next = retry(failed, T0 + 100_000);
    expect(next).toMatchObject({ status: 'pending', attempt: 2, records_written: 0 });
    expect(next.error).toBeUndefined();
    expect(next.finished_at).toBeUndefined();
    expect(next.timeline.slice(0, failed.timeline.length)).toEqual(failed.timeline);
    expect(next.timeline.at(-1)).toMatchObject({ status: 'pending', attempt: 2 });
  });
});

describe('notes and the sources of records', () => {
  it('keeps each note once, newest within MAX_NOTES, and the per-source counts as maxima', () => {
    const a = ev('loading', { notes: ['BTCUSDT-1m-2024-01-03.zip missing: filled over REST'] });
    const b = ev('loading', {
      notes: ['BTCUSDT-1m-2024-01-03.zip missing: filled over REST', 'BTCUSDT-1m-2024-01.zip replaced'],
      progress: { archive_records: 1000, rest_records: 20 },
    });
    const wf = run([a, b]);
    expect(wf.notes).toEqual([
      'BTCUSDT-1m-2024-01-03.zip missing: filled over REST',
      'BTCUSDT-1m-2024-01.zip replaced',
    ]);
    expect(wf.progress).toMatchObject({ archive_records: 1000, rest_records: 20 });
    // The same notes again change nothing; a late smaller count does not move one back.
    const again = fold(wf, { ...b, progress: { archive_records: 10 } }, T0 + 60_000);
    expect(again.notes).toEqual(wf.notes);
    expect(again.progress).toMatchObject({ archive_records: 1000 });
    const many = Array.from({ length: 60 }, (_, i) => ev('loading', { notes: [`note ${i}`] }));
    const bounded = run(many);
    expect(bounded.notes).toHaveLength(MAX_NOTES);
    expect(bounded.notes?.at(-1)).toBe('note 59');
  });
});
