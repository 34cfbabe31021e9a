/**
 * Workflow changes as they happen, for the status page's event stream (GET /stream/workflows):
 * the repository publishes every workflow it creates or changes — each queue-event folded, each
 * cancel, retry and watchdog verdict — and subscribers get it at once. In-process: the manager
 * runs as one replica (knative/queue-manager.yaml, min = max scale 1), which folds every
 * queue-event, so one feed sees every change.
 */
import { EventEmitter } from 'node:events';
import type { Workflow } from '../../shared/contracts/workflow.ts';
import type { WorkflowRepo } from './repo.ts';

export interface ChangeFeed {
  publish(wf: Workflow): void;
  /** Calls `listener` with every change from now on; returns the unsubscribe. */
  subscribe(listener: (wf: Workflow) => void): () => void;
  /** Subscribers now (a gauge for /metrics, and tests). */
  size(): number;
  /** Tells every subscriber the feed is over (the manager stopping): open streams end. */
  close(): void;
  /** Calls `listener` once when the feed closes; returns the unsubscribe. */
  onClose(listener: () => void): () => void;
}

export function createChangeFeed(): ChangeFeed {
  const emitter = new EventEmitter();
  // Each open status page is one listener; a busy platform may have many.
  emitter.setMaxListeners(0);
  return {
    publish: (wf) => void emitter.emit('change', wf),
    subscribe(listener) {
      emitter.on('change', listener);
      return () => emitter.off('change', listener);
    },
    size: () => emitter.listenerCount('change'),
    close: () => void emitter.emit('close'),
    onClose(listener) {
      emitter.once('close', listener);
      return () => emitter.off('close', listener);
    },
  };
}

/** `repo`, publishing to `feed` after every write that changed a workflow. */
export function observedRepo(repo: WorkflowRepo, feed: ChangeFeed): WorkflowRepo {
  return {
    ...repo,
    async create(wf) {
      await repo.create(wf);
      feed.publish(wf);
    },
    async update(queueId, change) {
      const r = await repo.update(queueId, change);
      if (r.after !== r.before) feed.publish(r.after);
      return r;
    },
  };
}
