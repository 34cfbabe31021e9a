/**
 * The workflow state machine as pure functions: `fold(workflow, event, now)` gives the next
 * workflow, or the very same object when the event changes nothing. Both intake paths (CloudEvent
 * POSTs and the bus) and the manager's own transitions (cancel, stall, job exit) go through it,
 * so at-least-once delivery, late and out-of-order events are handled in one place:
 *
 * - status only moves forward: pending → started → loading → completed | error | cancelled;
 * - a terminal status stays terminal (only `retry()` leaves it, explicitly);
 * - events of an older (or unknown newer) attempt are ignored;
 * - records_written takes the maximum, progress merges field by field (each field only grows),
 *   also after a terminal status.
 *
 * The timeline (GET /workflows/{queue_id}) is bounded; a chatty workflow no longer grows it per
 * event:
 *
 * 1. Transitions are always recorded, each as its own entry: an event whose status differs from
 *    the status the workflow had when it arrived, every terminal entry, the first `pending` entry
 *    (workflow created) and `retry()`'s entries. They have no `reports` field and never change.
 * 2. Progress is coalesced: an event with the status the workflow already has (a `loading` report
 *    while loading) merges into the one progress entry of its producer, attempt and status — `at`
 *    and `message` of the latest report by time, records_written and seq the maximum, `reports`
 *    the number of reports merged (1 for the first, which is the only one that adds an entry).
 * 3. At most TIMELINE_MAX entries: beyond it the oldest progress entries go first, then, only if
 *    still above, the oldest transitions except the first entry, the first `pending` one and the
 *    terminal ones (so only those can ever keep a timeline above the cap, one terminal entry and
 *    one note per attempt).
 * 4. Entries are in event-time order (`at`, compared as instants; equal times keep arrival
 *    order): a new entry is inserted where its time belongs, a merged one moves to its new time.
 * 5. After a terminal status no received event is recorded: the late events of the attempt are
 *    counted by ONE note (producer `queue-manager`, status the terminal one, `reports` the count,
 *    message `N late event(s) after <status>, last from <producer> at <its timestamp>`), updated
 *    on each further late event. Its `at` is never before any other entry, so it stays last.
 * 6. A duplicate changes nothing (fold returns `wf` itself): an event equal to a recorded entry
 *    (same producer and attempt, and the same seq and status, or without a seq the same time,
 *    status, message and records_written — for a merged entry: its latest report), or a progress
 *    report whose seq is not above the seq of its merged progress entry (a redelivery, or a report
 *    older than one already merged: it adds nothing). Without a seq only the latest merged report
 *    is recognised when redelivered, and a redelivered late event (never recorded) counts again.
 */
import {
  MAX_NOTES,
  TERMINAL_STATUSES,
  type QueueEvent,
  type Workflow,
  type WorkflowError,
  type WorkflowStatus,
} from '../../shared/contracts/workflow.ts';

export type TimelineEntry = Workflow['timeline'][number];
type Progress = NonNullable<Workflow['progress']>;

/** Timeline bound (rule 3); with coalesced progress a workflow rarely gets near it. */
export const TIMELINE_MAX = 200;

/** The manager's own producer name in timelines and synthetic events. */
export const MANAGER = 'queue-manager';

const RANK: Record<WorkflowStatus, number> = {
  pending: 0,
  started: 1,
  loading: 2,
  completed: 3,
  error: 3,
  cancelled: 3,
};

export function isTerminal(status: WorkflowStatus): boolean {
  return TERMINAL_STATUSES.has(status);
}

const iso = (now: number): string => new Date(now).toISOString();

/** An entry's instant; ISO strings of different precision do not compare as text. */
function time(at: string): number {
  const t = Date.parse(at);
  return Number.isNaN(t) ? Number.POSITIVE_INFINITY : t;
}

function entryOf(ev: QueueEvent, attempt: number): TimelineEntry {
  const message = ev.message !== '' ? ev.message : ev.error ? `${ev.error.code} ${ev.error.message}` : '';
  return {
    at: ev.timestamp,
    producer: ev.producer,
    status: ev.status,
    message,
    ...(ev.records_written > 0 ? { records_written: ev.records_written } : {}),
    attempt,
    ...(ev.seq !== undefined ? { seq: ev.seq } : {}),
  };
}

/** A producer's coalesced progress entry (rule 2). */
function isProgressEntry(e: TimelineEntry): boolean {
  return e.reports !== undefined && !isTerminal(e.status);
}

/** The late-event note of an attempt (rule 5). */
function isLateNote(e: TimelineEntry, attempt: number): boolean {
  return e.reports !== undefined && isTerminal(e.status) && e.producer === MANAGER && e.attempt === attempt;
}

/** Has `recorded` already taken in the event `x` (rule 6)? */
function covers(recorded: TimelineEntry, x: TimelineEntry): boolean {
  if (recorded.producer !== x.producer || recorded.attempt !== x.attempt) return false;
  if (recorded.seq !== undefined && x.seq !== undefined && isProgressEntry(recorded)) {
    return recorded.status === x.status && x.seq <= recorded.seq;
  }
  if (recorded.seq !== undefined || x.seq !== undefined) {
    return recorded.seq === x.seq && recorded.status === x.status;
  }
  if (isProgressEntry(recorded)) {
    // Time and message are the latest report's, records_written the maximum of all merged.
    return (
      recorded.at === x.at &&
      recorded.status === x.status &&
      recorded.message === x.message &&
      (x.records_written ?? 0) <= (recorded.records_written ?? 0)
    );
  }
  return (
    recorded.at === x.at &&
    recorded.status === x.status &&
    recorded.message === x.message &&
    recorded.records_written === x.records_written
  );
}

/** Inserts `entry` after every entry not later than it (rule 4). */
function insertByTime(entries: readonly TimelineEntry[], entry: TimelineEntry): TimelineEntry[] {
  const t = time(entry.at);
  let i = entries.length;
  for (let prev = entries[i - 1]; prev !== undefined && time(prev.at) > t; prev = entries[i - 1]) i -= 1;
  return [...entries.slice(0, i), entry, ...entries.slice(i)];
}

/** `entries` with entry `i` replaced by `entry`, which keeps its place only if its time did not change. */
function replaceAt(entries: readonly TimelineEntry[], i: number, entry: TimelineEntry): TimelineEntry[] {
  if (entries[i]?.at === entry.at) return entries.map((e, k) => (k === i ? entry : e));
  return insertByTime(
    entries.filter((_, k) => k !== i),
    entry,
  );
}

/**
 * Rule 3: drops entries beyond `max`, the oldest progress entries first, then the oldest
 * transitions; never the first entry, the first `pending` transition or a terminal entry.
 */
export function boundTimeline(entries: TimelineEntry[], max = TIMELINE_MAX): TimelineEntry[] {
  let excess = entries.length - max;
  if (excess <= 0) return entries;
  const firstPending = entries.findIndex((e) => e.status === 'pending' && e.reports === undefined);
  const kept = (e: TimelineEntry, i: number) => i === 0 || i === firstPending || isTerminal(e.status);
  const drop = new Set<number>();
  for (const pass of [isProgressEntry, () => true]) {
    entries.forEach((e, i) => {
      if (excess > 0 && !drop.has(i) && !kept(e, i) && pass(e)) {
        drop.add(i);
        excess -= 1;
      }
    });
  }
  return entries.filter((_, i) => !drop.has(i));
}

/** Rule 2: `report` merged into the progress entry `into`. */
function mergeEntry(into: TimelineEntry, report: TimelineEntry): TimelineEntry {
  const newer = time(report.at) >= time(into.at);
  const records = Math.max(into.records_written ?? 0, report.records_written ?? 0);
  const seq = Math.max(into.seq ?? -1, report.seq ?? -1);
  return {
    ...into,
    at: newer ? report.at : into.at,
    message: newer ? report.message : into.message,
    ...(records > 0 ? { records_written: records } : {}),
    ...(seq >= 0 ? { seq } : {}),
    reports: (into.reports ?? 1) + 1,
  };
}

/** Rule 5: the attempt's late-event note, created or counting one more. */
function noteLate(wf: Workflow, late: TimelineEntry): TimelineEntry[] {
  const i = wf.timeline.findLastIndex((e) => isLateNote(e, wf.attempt));
  const count = (i >= 0 ? (wf.timeline[i]?.reports ?? 0) : 0) + 1;
  const at = wf.timeline.reduce((a, e) => (time(e.at) > time(a) ? e.at : a), late.at);
  const note: TimelineEntry = {
    at,
    producer: MANAGER,
    status: wf.status,
    message: `${count} late event(s) after ${wf.status}, last from ${late.producer} at ${late.at}`,
    attempt: wf.attempt,
    reports: count,
  };
  return boundTimeline(i >= 0 ? replaceAt(wf.timeline, i, note) : insertByTime(wf.timeline, note));
}

/** The timeline after recording the (not duplicate) event `entry` on `wf` as it was before it. */
function record(wf: Workflow, entry: TimelineEntry): TimelineEntry[] {
  const timeline = wf.timeline;
  if (isTerminal(wf.status)) return noteLate(wf, entry);
  const transition =
    entry.status !== wf.status ||
    (entry.status === 'pending' &&
      !timeline.some(
        (e) => e.status === 'pending' && e.reports === undefined && e.attempt === entry.attempt,
      ));
  if (transition) return boundTimeline(insertByTime(timeline, entry));
  const i = timeline.findLastIndex(
    (e) =>
      isProgressEntry(e) &&
      e.producer === entry.producer &&
      e.attempt === entry.attempt &&
      e.status === entry.status,
  );
  const into = timeline[i];
  if (into === undefined) return boundTimeline(insertByTime(timeline, { ...entry, reports: 1 }));
  return boundTimeline(replaceAt(timeline, i, mergeEntry(into, entry)));
}

/** Progress fields: each only grows (a redelivered or late event never moves one back). */
const PROGRESS_FIELDS = [
  'pages',
  'records',
  'percent',
  'skipped_ms',
  'archive_records',
  'rest_records',
] as const;

function mergeProgress(a: Progress | undefined, b: Progress | undefined): Progress | undefined {
  if (!b) return a;
  if (!a) return { ...b };
  const out: Progress = { ...a };
  for (const k of PROGRESS_FIELDS) {
    const v = b[k];
    if (v !== undefined) out[k] = Math.max(out[k] ?? 0, v);
  }
  // State reports (a live stream's lag, a training's epoch) are the latest one sent.
  for (const k of STATE_FIELDS) if (b[k] !== undefined) Object.assign(out, { [k]: b[k] });
  return out;
}

/** Progress fields that describe the current state rather than count up. */
const STATE_FIELDS = ['live', 'training'] as const;

function sameProgress(a: Progress | undefined, b: Progress | undefined): boolean {
  return (
    PROGRESS_FIELDS.every((k) => a?.[k] === b?.[k]) &&
    STATE_FIELDS.every((k) => JSON.stringify(a?.[k]) === JSON.stringify(b?.[k]))
  );
}

/** The workflow's notes with the event's added once each, the newest kept within MAX_NOTES. */
function mergeNotes(a: string[] | undefined, b: string[] | undefined): string[] | undefined {
  if (!b || b.every((n) => a?.includes(n))) return a;
  return [...new Set([...(a ?? []), ...b])].slice(-MAX_NOTES);
}

/** Applies one queue-event to a workflow. Returns `wf` itself when nothing changes. */
export function fold(wf: Workflow, ev: QueueEvent, now: number): Workflow {
  if (ev.queue_id !== wf.queue_id) return wf;
  if ((ev.attempt ?? wf.attempt) !== wf.attempt) return wf;

  const entry = entryOf(ev, wf.attempt);
  const duplicate = wf.timeline.some((e) => covers(e, entry));
  const status = !isTerminal(wf.status) && RANK[ev.status] > RANK[wf.status] ? ev.status : wf.status;
  const records = Math.max(wf.records_written, ev.records_written);
  const progress = mergeProgress(wf.progress, ev.progress);
  const notes = mergeNotes(wf.notes, ev.notes);
  if (
    duplicate &&
    status === wf.status &&
    records === wf.records_written &&
    sameProgress(progress, wf.progress) &&
    notes === wf.notes
  ) {
    return wf;
  }

  const next: Workflow = {
    ...wf,
    status,
    records_written: records,
    updated_at: iso(now),
    last_event_at: iso(now),
    timeline: duplicate ? wf.timeline : record(wf, entry),
  };
  if (progress) next.progress = progress;
  if (notes) next.notes = notes;
  if (status !== wf.status && isTerminal(status)) {
    next.finished_at = iso(now);
    if (status === 'error') next.error = errorOf(ev);
  }
  return next;
}

function errorOf(ev: QueueEvent): WorkflowError {
  if (ev.error) return ev.error;
  return { code: 'error', message: ev.message !== '' ? ev.message : `${ev.producer} reported an error` };
}

/** A queue-event written by the manager itself (cancel, stall, job exit). */
export function managerEvent(
  wf: Workflow,
  now: number,
  status: WorkflowStatus,
  message: string,
  error?: WorkflowError,
): QueueEvent {
  return {
    queue_id: wf.queue_id,
    producer: MANAGER,
    symbol: wf.symbol,
    type: wf.type,
    status,
    message,
    records_written: 0,
    finished: isTerminal(status),
    timestamp: iso(now),
    attempt: wf.attempt,
    ...(error ? { error } : {}),
  };
}

/**
 * Non-terminal and silent for longer than `timeoutMs`. Silence counts from `watchingSince` at the
 * earliest: a manager that was down must first read the events sent meanwhile before it can
 * call anything silent.
 */
export function isStalled(wf: Workflow, now: number, timeoutMs: number, watchingSince = 0): boolean {
  return !isTerminal(wf.status) && now - Math.max(Date.parse(wf.last_event_at), watchingSince) > timeoutMs;
}

/** The watchdog's transition: a stalled workflow ends in `error` with code `stalled`. */
export function stall(wf: Workflow, now: number, timeoutMs: number, watchingSince = 0): Workflow {
  if (!isStalled(wf, now, timeoutMs, watchingSince)) return wf;
  const message = `no queue-event for ${Math.round(timeoutMs / 1000)} s (last at ${wf.last_event_at})`;
  return fold(
    wf,
    managerEvent(wf, now, 'error', message, { code: 'stalled', message, source: MANAGER }),
    now,
  );
}

/** Statuses a user may cancel from, and retry from. */
export const CANCELLABLE: ReadonlySet<WorkflowStatus> = new Set(['pending', 'started', 'loading']);
export const RETRYABLE: ReadonlySet<WorkflowStatus> = new Set(['error', 'cancelled']);

/** Starts the next attempt: back to `pending` with fresh counters; the timeline is kept. */
export function retry(wf: Workflow, now: number): Workflow {
  const attempt = wf.attempt + 1;
  const { error: _e, progress: _p, finished_at: _f, ...rest } = wf;
  return {
    ...rest,
    status: 'pending',
    attempt,
    records_written: 0,
    updated_at: iso(now),
    last_event_at: iso(now),
    timeline: boundTimeline(
      insertByTime(wf.timeline, {
        at: iso(now),
        producer: MANAGER,
        status: 'pending',
        message: `retry: attempt ${attempt}`,
        attempt,
      }),
    ),
  };
}
