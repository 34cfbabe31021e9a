/**
 * Workflow documents in the Store (collection `workflows`), written with optimistic concurrency:
 * read, apply a pure change, write with the read revision, and on a conflict start over with the
 * fresh document. Two intake paths and the watchdog may touch one workflow at once; none loses.
 */
import type { Workflow, WorkflowStatus } from '../../shared/contracts/workflow.ts';
import { ConflictError, DependencyError, NotFoundError } from '../../shared/runtime/errors.ts';
import type { Store } from '../../shared/store/store.ts';

export const WORKFLOWS = 'workflows';
const MAX_CONFLICT_RETRIES = 20;

export interface ListFilter {
  status?: WorkflowStatus | undefined;
  symbol?: string | undefined;
  type?: string | undefined;
  limit: number;
  offset: number;
}

export interface WorkflowRepo {
  ensure(): Promise<void>;
  create(wf: Workflow): Promise<void>;
  get(queueId: string): Promise<Workflow | null>;
  list(f: ListFilter): Promise<{ items: Workflow[]; total: number }>;
  /** Every workflow in a non-terminal status (the watchdog's working set). */
  active(): Promise<Workflow[]>;
  /**
   * Applies `change` to the current document until the write wins. `change` returns the same
   * object to leave the document as it is. NotFoundError when there is no such workflow.
   */
  update(queueId: string, change: (wf: Workflow) => Workflow): Promise<{ before: Workflow; after: Workflow }>;
}

export function createWorkflowRepo(store: Store): WorkflowRepo {
  return {
    ensure: () => store.ensureCollection(WORKFLOWS, 'documents'),

    async create(wf) {
      await store.putDoc(WORKFLOWS, wf.queue_id, wf);
    },

    async get(queueId) {
      const d = await store.getDoc<Workflow>(WORKFLOWS, queueId);
      return d ? d.doc : null;
    },

    async list(f) {
      const where: Record<string, string> = {};
      if (f.status) where['status'] = f.status;
      if (f.symbol) where['symbol'] = f.symbol;
      if (f.type) where['type'] = f.type;
      const r = await store.findDocs<Workflow>(WORKFLOWS, {
        where,
        sortBy: 'created_at',
        desc: true,
        limit: f.limit,
        offset: f.offset,
      });
      return { items: r.items.map((d) => d.doc), total: r.total };
    },

    async active() {
      const out: Workflow[] = [];
      const page = 500;
      for (const status of ['pending', 'started', 'loading'] as const) {
        for (let offset = 0; ; offset += page) {
          const r = await store.findDocs<Workflow>(WORKFLOWS, {
            where: { status },
            sortBy: 'created_at',
            limit: page,
            offset,
          });
          out.push(...r.items.map((d) => d.doc));
          if (r.items.length < page) break;
        }
      }
      return out;
    },

    async update(queueId, change) {
      for (let i = 0; i < MAX_CONFLICT_RETRIES; i++) {
        const cur = await store.getDoc<Workflow>(WORKFLOWS, queueId);
        if (!cur) throw new NotFoundError(`no workflow ${queueId}`);
        const next = change(cur.doc);
        if (next === cur.doc) return { before: cur.doc, after: cur.doc };
        try {
          await store.putDoc(WORKFLOWS, queueId, next, cur.rev);
          return { before: cur.doc, after: next };
        } catch (err) {
          if (!(err instanceof ConflictError)) throw err;
        }
      }
      throw new DependencyError(`workflow ${queueId}: too many concurrent writes`);
    },
  };
}
