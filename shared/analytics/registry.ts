/**
 * Where graphs and models are listed (issue 14): two document collections of the store, `graphs`
 * (a GraphInfo per graph_build workflow, written by the graph-builder when its snapshots are
 * stored) and `models` (a ModelInfo per gnn_train workflow, written by the queue-manager from the
 * trainer's final queue-event). The snapshots themselves are the store's graph tables.
 */
import { GraphInfo, ModelInfo } from '../contracts/analytics.ts';
import { ConflictError } from '../runtime/errors.ts';
import type { Store } from '../store/store.ts';

export const GRAPHS = 'graphs';
export const MODELS = 'models';

export interface Registry {
  ensure(): Promise<void>;
  /** Stores a graph's summary; written again (a retried build) it replaces the old one. */
  putGraph(info: GraphInfo): Promise<void>;
  getGraph(id: string): Promise<GraphInfo | null>;
  listGraphs(q: { limit: number; offset: number }): Promise<{ items: GraphInfo[]; total: number }>;
  /** Stores a model once (a redelivered event finds it there and changes nothing). */
  putModel(info: ModelInfo): Promise<'stored' | 'exists'>;
  getModel(id: string): Promise<ModelInfo | null>;
  listModels(q: { limit: number; offset: number; graph_id?: string | undefined }): Promise<{
    items: ModelInfo[];
    total: number;
  }>;
}

export function createRegistry(store: Store): Registry {
  return {
    async ensure() {
      await store.ensureCollection(GRAPHS, 'documents');
      await store.ensureCollection(MODELS, 'documents');
    },
    async putGraph(info) {
      const doc = GraphInfo.parse(info);
      for (;;) {
        const old = await store.getDoc<GraphInfo>(GRAPHS, doc.graph_id);
        try {
          await store.putDoc(GRAPHS, doc.graph_id, doc, old?.rev);
          return;
        } catch (err) {
          if (!(err instanceof ConflictError)) throw err;
        }
      }
    },
    async getGraph(id) {
      return (await store.getDoc<GraphInfo>(GRAPHS, id))?.doc ?? null;
    },
    async listGraphs(q) {
      const { items, total } = await store.findDocs<GraphInfo>(GRAPHS, {
        sortBy: 'created_at',
        desc: true,
        limit: q.limit,
        offset: q.offset,
      });
      return { items: items.map((i) => i.doc), total };
    },
    async putModel(info) {
      const doc = ModelInfo.parse(info);
      try {
        await store.putDoc(MODELS, doc.model_id, doc);
        return 'stored';
      } catch (err) {
        if (err instanceof ConflictError) return 'exists';
        throw err;
      }
    },
    async getModel(id) {
      return (await store.getDoc<ModelInfo>(MODELS, id))?.doc ?? null;
    },
    async listModels(q) {
      const { items, total } = await store.findDocs<ModelInfo>(MODELS, {
        ...(q.graph_id ? { where: { graph_id: q.graph_id } } : {}),
        sortBy: 'created_at',
        desc: true,
        limit: q.limit,
        offset: q.offset,
      });
      return { items: items.map((i) => i.doc), total };
    },
  };
}
