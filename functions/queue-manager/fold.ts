/**
 * The workflow state machine as pure functions: `fold(workflow, event, now)` gives the next
 * workflow, or the very same object when the event changes nothing. Both intake paths (CloudEvent
 * POSTs and the bus) and the manager's own transitions (cancel, stall, job exit) go through it,
 * so at-least-once delivery, late and out-of-order events are handled in one place:
 *
 * - status only moves forward: pending → started → loading → completed | error | cancelled;
 * - a terminal status stays terminal (only `retry()` leaves it, explicitly);
 * - events of an older (or unknown newer) attempt are ignored;
 * - records_written takes the maximum, progress merges field by field (each field only grows);
 * - every received event is appended to the timeline once (a redelivered duplicate is not).
 */
import {
  TERMINAL_STATUSES,
  type QueueEvent,
  type Workflow,
  type WorkflowError,
  type WorkflowStatus,
} from '../../shared/contracts/workflow.ts';

export type TimelineEntry = Workflow['timeline'][number];
type Progress = NonNullable<Workflow['progress']>;

/** Timeline bound; the first entry and every terminal entry are always kept. */
export const TIMELINE_MAX = 500;

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

/** Same event again? With a producer `seq` that decides; without one the whole entry must match. */
function sameEntry(a: TimelineEntry, b: TimelineEntry): boolean {
  if (a.producer !== b.producer || a.attempt !== b.attempt) return false;
  if (a.seq !== undefined || b.seq !== undefined) return a.seq === b.seq && a.status === b.status;
  return (
    a.at === b.at &&
    a.status === b.status &&
    a.message === b.message &&
    a.records_written === b.records_written
  );
}

/** Drops the oldest entries beyond `max`, keeping the first one and the terminal ones. */
export function boundTimeline(entries: TimelineEntry[], max = TIMELINE_MAX): TimelineEntry[] {
  let excess = entries.length - max;
  if (excess <= 0) return entries;
  return entries.filter((e, i) => {
    if (excess <= 0 || i === 0 || isTerminal(e.status)) return true;
    excess -= 1;
    return false;
  });
}

function mergeProgress(a: Progress | undefined, b: Progress | undefined): Progress | undefined {
  if (!b) return a;
  if (!a) return { ...b };
  const out: Progress = { ...a };
  for (const k of ['pages', 'records', 'percent', 'skipped_ms'] as const) {
    const v = b[k];
    if (v !== undefined) out[k] = Math.max(out[k] ?? 0, v);
  }
  return out;
}

function sameProgress(a: Progress | undefined, b: Progress | undefined): boolean {
  return (
    a?.pages === b?.pages &&
    a?.records === b?.records &&
    a?.percent === b?.percent &&
    a?.skipped_ms === b?.skipped_ms
  );
}

/** Applies one queue-event to a workflow. Returns `wf` itself when nothing changes. */
export function fold(wf: Workflow, ev: QueueEvent, now: number): Workflow {
  if (ev.queue_id !== wf.queue_id) return wf;
  if ((ev.attempt ?? wf.attempt) !== wf.attempt) return wf;

  const entry = entryOf(ev, wf.attempt);
  const duplicate = wf.timeline.some((e) => sameEntry(e, entry));
  const status = !isTerminal(wf.status) && RANK[ev.status] > RANK[wf.status] ? ev.status : wf.status;
  const records = Math.max(wf.records_written, ev.records_written);
  const progress = mergeProgress(wf.progress, ev.progress);
  if (
    duplicate &&
    status === wf.status &&
    records === wf.records_written &&
    sameProgress(progress, wf.progress)
  ) {
    return wf;
  }

  const next: Workflow = {
    ...wf,
    status,
    records_written: records,
    updated_at: iso(now),
    last_event_at: iso(now),
    timeline: duplicate ? wf.timeline : boundTimeline([...wf.timeline, entry]),
  };
  if (progress) next.progress = progress;
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
    timeline: boundTimeline([
      ...wf.timeline,
      { at: iso(now), producer: MANAGER, status: 'pending', message: `retry: attempt ${attempt}`, attempt },
    ]),
  };
}
