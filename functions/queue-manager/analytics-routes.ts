/**
 * Read API over graphs and models (issue 14), served by the queue-manager on its port:
 *   GET  /graphs                    graphs built by graph_build workflows, newest first
 *   GET  /graphs/{id}               one graph: its parameters and a page of snapshots (vertices, edges)
 *   GET  /models                    trained models with their metrics, newest first
 *   GET  /models/{id}               one model: hyperparameters, ranges, metrics, baselines, comparisons
 *   POST /models/{id}/predict       the model's P(up) per asset on the latest stored data
 */
import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import { GraphInfo, GraphSnapshot, ModelInfo } from '../../shared/contracts/analytics.ts';
import type { Registry as AnalyticsRegistry } from '../../shared/analytics/registry.ts';
import { NotFoundError } from '../../shared/runtime/errors.ts';
import type { Logger } from '../../shared/runtime/logger.ts';
import type { Store } from '../../shared/store/store.ts';
import { createPredictor, PredictionSchema, type Predictor } from './predict.ts';
import { common, error, fromStore, ok, rejectInvalid } from './route-kit.ts';

const MAX_OFFSET = 1_000_000_000;
const digits = (name: string, min: number, max: number, def: number, description: string) =>
  z
    .string()
    .regex(/^[0-9]+$/, `${name} must be an integer`)
    .transform(Number)
    .pipe(z.number().int().min(min).max(max))
    .default(def)
    .openapi({ type: 'integer', minimum: min, maximum: max, default: def, description });

const PageQuery = z.object({
  limit: digits('limit', 1, 500, 50, 'Page size, 1..500'),
  offset: digits('offset', 0, MAX_OFFSET, 0, `Items to skip, 0..${MAX_OFFSET}`),
});
const ModelsQuery = PageQuery.extend({
  graph_id: z
    .string()
    .min(1)
    .max(200)
    .optional()
    .openapi({ description: 'Only the models trained on this graph' }),
});
const SnapshotQuery = z.object({
  from: digits('from', 0, Number.MAX_SAFE_INTEGER, 0, 'Snapshots with t >= from (epoch ms)'),
  to: digits('to', 1, Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER, 'Snapshots with t < to (epoch ms)'),
  limit: digits('limit', 1, 1000, 50, 'Snapshots per page, 1..1000'),
});
const IdParam = (what: string) =>
  z.object({
    id: z
      .string()
      .min(1)
      .max(200)
      .openapi({ description: `${what} id`, example: 'wf-s00usdt-graph_build-20230101-a1b2c3' }),
  });

const GraphSchema = GraphInfo.meta({ description: 'A stored graph' }).openapi('Graph');
const ModelSchema = ModelInfo.meta({ description: 'A trained model with its metrics' }).openapi('Model');
const GraphDetail = GraphInfo.extend({
  snapshot_page: z.object({
    items: z.array(GraphSnapshot),
    /** `from` for the next page, null on the last one. */
    next_from: z.number().int().nullable(),
  }),
}).openapi('GraphDetail');

const list = <S extends z.ZodType>(item: S) =>
  z.object({
    items: z.array(item),
    total: z.number().int().nonnegative(),
    limit: z.number().int(),
    offset: z.number().int(),
  });

const routes = {
  graphs: createRoute({
    method: 'get',
    path: '/graphs',
    tags: ['analytics'],
    summary: 'Graphs built by graph_build workflows, newest first',
    request: { query: PageQuery },
    responses: { ...ok(list(GraphSchema), 'Graphs'), 400: error('Invalid query (zod issues)'), ...common },
  }),
  graph: createRoute({
    method: 'get',
    path: '/graphs/{id}',
    tags: ['analytics'],
    summary:
      'One graph with a page of its snapshots (vertices with window features; edges with weight, sign, lag, method, p-value)',
    request: { params: IdParam('Graph'), query: SnapshotQuery },
    responses: {
      ...ok(GraphDetail, 'The graph'),
      400: error('Invalid parameters (zod issues)'),
      404: error('No such graph'),
      ...common,
    },
  }),
  models: createRoute({
    method: 'get',
    path: '/models',
    tags: ['analytics'],
    summary: 'Trained models with their metrics, newest first',
    request: { query: ModelsQuery },
    responses: { ...ok(list(ModelSchema), 'Models'), 400: error('Invalid query (zod issues)'), ...common },
  }),
  model: createRoute({
    method: 'get',
    path: '/models/{id}',
    tags: ['analytics'],
    summary: 'One model: hyperparameters, graph, data ranges, seed, metrics, baselines and comparisons',
    request: { params: IdParam('Model') },
    responses: {
      ...ok(ModelSchema, 'The model'),
      400: error('Invalid id'),
      404: error('No such model'),
      ...common,
    },
  }),
  predict: createRoute({
    method: 'post',
    path: '/models/{id}/predict',
    tags: ['analytics'],
    summary: "The model's probability that each asset's next return is positive, on the latest stored data",
    description:
      'Uses the last `lags` returns every asset has stored (aligned on one time axis) and the latest snapshot of ' +
      "the model's graph taken at or before that time. 409 when an input is not stored (the reason names it).",
    request: { params: IdParam('Model') },
    responses: {
      ...ok(PredictionSchema, 'Predictions'),
      400: error('Invalid id'),
      404: error('No such model'),
      409: error('The inputs the model needs are not stored (which and why in the message)'),
      ...common,
    },
  }),
};

export function registerAnalyticsRoutes(
  app: OpenAPIHono,
  deps: { store: Store; analytics: AnalyticsRegistry; predictor?: Predictor | undefined; logger: Logger },
): void {
  const { store, analytics } = deps;
  const predictor = deps.predictor ?? createPredictor({ store, logger: deps.logger });

  app.openapi(
    routes.graphs,
    async (c) => {
      const q = c.req.valid('query');
      const page = await fromStore(analytics.listGraphs(q));
      return c.json({ ...page, limit: q.limit, offset: q.offset }, 200);
    },
    rejectInvalid,
  );

  app.openapi(
    routes.graph,
    async (c) => {
      const { id } = c.req.valid('param');
      const q = c.req.valid('query');
      const graph = await fromStore(analytics.getGraph(id));
      if (!graph) throw new NotFoundError(`no graph ${id}`);
      const items = await fromStore(store.graphSnapshots(id, { from: q.from, to: q.to, limit: q.limit + 1 }));
      const more = items.length > q.limit;
      const page = more ? items.slice(0, q.limit) : items;
      const next = more ? items[q.limit]!.t : null;
      return c.json({ ...graph, snapshot_page: { items: page, next_from: next } }, 200);
    },
    rejectInvalid,
  );

  app.openapi(
    routes.models,
    async (c) => {
      const q = c.req.valid('query');
      const page = await fromStore(analytics.listModels(q));
      return c.json({ ...page, limit: q.limit, offset: q.offset }, 200);
    },
    rejectInvalid,
  );

  app.openapi(
    routes.model,
    async (c) => {
      const { id } = c.req.valid('param');
      const model = await fromStore(analytics.getModel(id));
      if (!model) throw new NotFoundError(`no model ${id}`);
      return c.json(model, 200);
    },
    rejectInvalid,
  );

  app.openapi(
    routes.predict,
    async (c) => {
      const { id } = c.req.valid('param');
      const model = await fromStore(analytics.getModel(id));
      if (!model) throw new NotFoundError(`no model ${id}`);
      return c.json(await predictor.predict(model), 200);
    },
    rejectInvalid,
  );
}
