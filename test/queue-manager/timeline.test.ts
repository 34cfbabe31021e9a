/**
 * The bounded workflow timeline (rules at the top of functions/queue-manager/fold.ts): transitions
 * kept, progress coalesced per producer and attempt, a hard cap, event-time order, one late-event
 * note after a terminal status, duplicates still no-ops.
 */
import { describe, expect, it } from 'vitest';
import type { QueueEvent, Workflow, WorkflowStatus } from '../../shared/contracts/workflow.ts';
import { Workflow as WorkflowSchema } from '../../shared/contracts/workflow.ts';
import {
  MANAGER,
  TIMELINE_MAX,
  boundTimeline,
  fold,
  managerEvent,
  retry,
  type TimelineEntry,
} from '../../functions/queue-manager/fold.ts';
import { T0, eventAt, workflow } from './fold-fixtures.ts';

const at = (ms: number): string => new Date(T0 + ms).toISOString();
const ev = eventAt;

const loader = (seq: number, ms: number, pages = seq): QueueEvent =>
  ev('loading', ms, { seq, message: `published ${pages} pages`, progress: { pages, records: pages * 1000 } });
const sink = (records: number, ms: number): QueueEvent =>
  ev('loading', ms, {
    producer: 'arango-connector',
    records_written: records,
    message: `${records} records stored`,
  });

/** Folds events in arrival order; "now" is one second per event after T0 + 1 h. */
function run(events: QueueEvent[], start = workflow()): Workflow {
  return events.reduce((wf, e, i) => fold(wf, e, T0 + 3_600_000 + i * 1000), start);
}

/** Deterministic PRNG (mulberry32) and Fisher–Yates shuffle, so a failure reproduces. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
function shuffle<T>(xs: T[], rnd: () => number): T[] {
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

const times = (wf: Workflow): number[] => wf.timeline.map((e) => Date.parse(e.at));
const isSorted = (xs: number[]): boolean => xs.every((x, i) => i === 0 || (xs[i - 1] ?? 0) <= x);
const jsonBytes = (x: unknown): number => Buffer.byteLength(JSON.stringify(x));

const CREATED: TimelineEntry = workflow().timeline[0] as TimelineEntry;
const STARTED = ev('started', 1000, { seq: 0, message: 'loader started' });
const FIRST_LOADING = loader(1, 2000);

describe('timeline: progress is coalesced', () => {
  it('merges each producer’s progress into one entry: latest time and message, max records, count', () => {
    const wf = run([
      STARTED,
      FIRST_LOADING, // started → loading: a transition, never merged
      loader(2, 3000),
      sink(1000, 4000),
      loader(3, 5000),
      sink(3000, 6000),
      sink(2000, 3500), // older, arrives last: counted, changes neither time nor message nor max
    ]);
    expect(wf.status).toBe('loading');
    expect(wf.records_written).toBe(3000);
    expect(wf.timeline).toEqual([
      CREATED,
      {
        at: at(1000),
        producer: 'loader-api',
        status: 'started',
        message: 'loader started',
        attempt: 1,
        seq: 0,
      },
      {
        at: at(2000),
        producer: 'loader-api',
        status: 'loading',
        message: 'published 1 pages',
        attempt: 1,
        seq: 1,
      },
      {
        at: at(5000),
        producer: 'loader-api',
        status: 'loading',
        message: 'published 3 pages',
        attempt: 1,
        seq: 3,
        reports: 2,
      },
      {
        at: at(6000),
        producer: 'arango-connector',
        status: 'loading',
        message: '3000 records stored',
        records_written: 3000,
        attempt: 1,
        reports: 3,
      },
    ]);
    expect(WorkflowSchema.parse(wf)).toEqual(wf);
  });

  it('a progress report whose seq is not above the merged one adds nothing (redelivery or stale)', () => {
    const wf = run([STARTED, FIRST_LOADING, loader(2, 3000), loader(5, 6000)]);
    expect(wf.timeline.at(-1)).toMatchObject({ seq: 5, reports: 2, at: at(6000) });
    expect(fold(wf, loader(2, 3000), T0 + 9_000_000)).toBe(wf); // redelivered
    expect(fold(wf, loader(4, 5000), T0 + 9_000_000)).toBe(wf); // stale: pages 4 < 5 already merged
    expect(fold(wf, loader(6, 7000), T0 + 9_000_000).timeline.at(-1)).toMatchObject({ seq: 6, reports: 3 });
  });

  it('a status the workflow does not have is a transition even when it moves nothing', () => {
    const wf = run([FIRST_LOADING, STARTED, ev('pending', 1500, { producer: 'arango-connector' })]);
    expect(wf.status).toBe('loading');
    expect(wf.timeline.map((e) => [e.status, e.reports])).toEqual([
      ['pending', undefined],
      ['started', undefined],
      ['pending', undefined],
      ['loading', undefined],
    ]);
  });
});

describe('timeline: event-time order', () => {
  it('out-of-order arrival is recorded in time order; equal times keep arrival order', () => {
    const shape = (wf: Workflow) => wf.timeline.map((e) => [e.at, e.producer, e.status, e.reports]);
    const wf = run([
      loader(2, 5000), // pending → loading
      ev('started', 1000, { producer: 'arango-connector' }), // late
      STARTED, // same time, arrived after it
      sink(10, 1000), // same time again, arrived last
      sink(5, 500), // merged into the sink's entry: the entry keeps 1 s and its place
    ]);
    expect(shape(wf)).toEqual([
      [at(0), MANAGER, 'pending', undefined],
      [at(1000), 'arango-connector', 'started', undefined],
      [at(1000), 'loader-api', 'started', undefined],
      [at(1000), 'arango-connector', 'loading', 2],
      [at(5000), 'loader-api', 'loading', undefined],
    ]);
    const moved = fold(wf, sink(20, 6000), T0 + 9_000_000); // merged, moves to its new time
    expect(shape(moved)).toEqual([
      [at(0), MANAGER, 'pending', undefined],
      [at(1000), 'arango-connector', 'started', undefined],
      [at(1000), 'loader-api', 'started', undefined],
      [at(5000), 'loader-api', 'loading', undefined],
      [at(6000), 'arango-connector', 'loading', 3],
    ]);
  });

  it('compares instants, not text: 10:00:05Z is before 10:00:05.500Z', () => {
    const wf = run([
      ev('started', 0, { timestamp: '2024-08-02T10:00:05.500Z', message: 'b' }),
      ev('loading', 0, { timestamp: '2024-08-02T10:00:05Z', message: 'a' }),
    ]);
    expect(wf.timeline.map((e) => e.message)).toEqual(['workflow created', 'a', 'b']);
  });
});

describe('timeline: bound', () => {
  it('a flood of 10,000 progress events with shuffled timestamps stays small, sorted, with every transition', () => {
    const rnd = prng(42);
    const N = 10_000;
    // Arrival slots each get a producer, and an instant from a shuffled range (10 s + j × 7 ms).
    const instants = shuffle(
      Array.from({ length: N }, (_, j) => 10_000 + j * 7),
      rnd,
    );
    let seq = 1;
    let stored = 0;
    const flood = instants.map((ms): QueueEvent => {
      if (rnd() < 0.5) {
        seq += 1;
        return loader(seq, ms, seq); // the loader numbers its reports as it sends them
      }
      stored += 100;
      return sink(stored, ms);
    });
    const fromLoader = flood.filter((e) => e.producer === 'loader-api');
    const fromSink = flood.filter((e) => e.producer === 'arango-connector');
    const latest = (es: QueueEvent[]): QueueEvent =>
      es.reduce((a, e) => (Date.parse(e.timestamp) > Date.parse(a.timestamp) ? e : a));

    const before = run([STARTED, FIRST_LOADING]);
    const wf = run(flood, before);

    expect(wf.status).toBe('loading');
    expect(wf.timeline.length).toBeLessThanOrEqual(TIMELINE_MAX);
    expect(wf.timeline).toHaveLength(5);
    expect(jsonBytes(wf.timeline)).toBeLessThan(2_000); // bound: 5 entries of < 400 bytes
    expect(isSorted(times(wf))).toBe(true);
    expect(wf.timeline.slice(0, 3)).toEqual(before.timeline); // created, started, first loading
    const progress = wf.timeline.slice(3);
    const [byLoader, bySink] = [fromLoader, fromSink].map((es) => latest(es));
    expect(progress).toContainEqual({
      at: byLoader?.timestamp,
      producer: 'loader-api',
      status: 'loading',
      message: byLoader?.message,
      attempt: 1,
      seq,
      reports: fromLoader.length,
    });
    expect(progress).toContainEqual({
      at: bySink?.timestamp,
      producer: 'arango-connector',
      status: 'loading',
      message: bySink?.message,
      records_written: stored,
      attempt: 1,
      reports: fromSink.length,
    });
    expect(fromLoader.length + fromSink.length).toBe(N);
    expect(wf.records_written).toBe(stored);
    expect(wf.progress).toEqual({ pages: seq, records: seq * 1000 });

    // Redeliveries change nothing: the loader's by seq, the sink's latest report by content.
    for (const e of shuffle(fromLoader, rnd).slice(0, 500)) expect(fold(wf, e, T0 + 9_999_000)).toBe(wf);
    expect(fold(wf, bySink as QueueEvent, T0 + 9_999_000)).toBe(wf); // records ≤ the merged maximum
    expect(fold(wf, STARTED, T0 + 9_999_000)).toBe(wf);
  });

  it('beyond the cap the oldest progress entries go first, then the oldest transitions', () => {
    const entry = (ms: number, status: WorkflowStatus, reports?: number): TimelineEntry => ({
      at: at(ms),
      producer: 'p',
      status,
      message: String(ms),
      ...(reports !== undefined ? { reports } : {}),
    });
    const entries = [
      entry(0, 'pending'), // the first
      entry(1, 'loading', 4),
      entry(2, 'started'),
      entry(3, 'loading', 1),
      entry(4, 'cancelled'), // terminal
      entry(5, 'loading'),
      entry(6, 'loading', 2),
      entry(7, 'cancelled', 3), // the late note (terminal)
    ];
    const kept = (max: number) => boundTimeline(entries, max).map((e) => e.message);
    expect(kept(8)).toEqual(['0', '1', '2', '3', '4', '5', '6', '7']);
    expect(kept(6)).toEqual(['0', '2', '4', '5', '6', '7']); // progress 1 and 3 first
    expect(kept(5)).toEqual(['0', '2', '4', '5', '7']); // all progress gone
    expect(kept(4)).toEqual(['0', '4', '5', '7']); // then the oldest transition
    expect(kept(1)).toEqual(['0', '4', '7']); // never the first or a terminal one
  });

  it('many producers: capped at TIMELINE_MAX, transitions kept, under 40 KB', () => {
    const producers = Array.from(
      { length: 1000 },
      (_, i) => `loader-bulk-worker-${String(i).padStart(4, '0')}`,
    );
    const reports = producers.map((producer, i) =>
      ev('loading', 10_000 + i, { producer, seq: i, message: `published ${i} pages of 1000 requested` }),
    );
    const wf = run(
      [...reports, ev('completed', 9_000_000, { producer: 'arango-connector', finished: true })],
      run([STARTED, FIRST_LOADING]),
    );
    expect(wf.timeline).toHaveLength(TIMELINE_MAX);
    expect(wf.timeline.slice(0, 3).map((e) => e.status)).toEqual(['pending', 'started', 'loading']);
    expect(wf.timeline[3]?.producer).toBe(producers[1000 - (TIMELINE_MAX - 4)]); // the newest progress
    expect(wf.timeline.at(-1)?.status).toBe('completed');
    expect(isSorted(times(wf))).toBe(true);
    expect(jsonBytes(wf.timeline)).toBeLessThan(40_000);
  });
});

describe('timeline: after a terminal status', () => {
  it('only one late note, counting the late events; status, records and progress as before', () => {
    const cancelledAt = T0 + 20_000;
    let wf = run([STARTED, FIRST_LOADING, loader(2, 3000), sink(1000, 4000)]);
    wf = fold(wf, managerEvent(wf, cancelledAt, 'cancelled', 'cancelled by request'), cancelledAt);
    const settled = wf.timeline;

    const rnd = prng(7);
    const late = shuffle(
      [
        // Sent before the cancel (stamped 5 s … 19 s), received after it.
        ...Array.from({ length: 600 }, (_, i) => loader(3 + i, 5000 + i * 20)),
        ...Array.from({ length: 399 }, (_, i) => sink(2000 + i, 15_000 + i * 10)),
      ],
      rnd,
    );
    const last = ev('cancelled', 19_000, { seq: 700, finished: true, message: 'stopped by SIGTERM' });
    wf = run([...late, last], wf);

    expect(wf.status).toBe('cancelled');
    expect(wf.records_written).toBe(2398); // max records, as before the change
    expect(wf.progress).toEqual({ pages: 602, records: 602_000 });
    expect(wf.timeline).toEqual([
      ...settled,
      {
        at: at(20_000), // the cancel's time: the note never sorts before what it follows
        producer: MANAGER,
        status: 'cancelled',
        message: `1000 late event(s) after cancelled, last from loader-api at ${at(19_000)}`,
        attempt: 1,
        reports: 1000,
      },
    ]);
    expect(isSorted(times(wf))).toBe(true);

    // A late event stamped after everything moves the note to its time.
    const later = fold(wf, sink(5000, 25_000), T0 + 9_000_000);
    expect(later.timeline).toHaveLength(wf.timeline.length);
    expect(later.timeline.at(-1)).toMatchObject({
      at: at(25_000),
      reports: 1001,
      message: `1001 late event(s) after cancelled, last from arango-connector at ${at(25_000)}`,
    });
    expect(later.records_written).toBe(5000);

    // Redeliveries of recorded events are still no-ops.
    expect(fold(wf, STARTED, T0 + 9_000_000)).toBe(wf);
    expect(fold(wf, loader(2, 3000), T0 + 9_000_000)).toBe(wf);
    expect(fold(wf, sink(1000, 4000), T0 + 9_000_000)).toBe(wf);
  });

  it('each attempt gets its own note; events of the old attempt stay ignored', () => {
    let wf = run([STARTED, ev('error', 2000, { seq: 1, finished: true, message: 'boom' }), loader(2, 3000)]);
    expect(wf.timeline.at(-1)).toMatchObject({ status: 'error', reports: 1, attempt: 1 });
    wf = retry(wf, T0 + 100_000);
    expect(fold(wf, loader(3, 101_000), T0 + 200_000)).toBe(wf); // attempt 1: ignored
    wf = run(
      [
        ev('completed', 110_000, { producer: 'arango-connector', finished: true, attempt: 2 }),
        ev('loading', 105_000, { seq: 1, attempt: 2 }),
        ev('loading', 106_000, { seq: 2, attempt: 2 }),
      ],
      wf,
    );
    expect(wf.status).toBe('completed');
    expect(wf.timeline.map((e) => [e.status, e.attempt, e.reports])).toEqual([
      ['pending', 1, undefined],
      ['started', 1, undefined],
      ['error', 1, undefined],
      ['error', 1, 1], // attempt 1's note
      ['pending', 2, undefined], // retry
      ['completed', 2, undefined],
      ['completed', 2, 2], // attempt 2's note
    ]);
  });
});
