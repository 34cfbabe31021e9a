/**
 * The workflow REST API as zod-openapi routes: the same schemas validate requests and produce
 * `/openapi.json`. Invalid input answers 400 through the runtime's default hook.
 */
import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import type { WorkflowService } from './handler.ts';
import type { CreateRateLimit } from './rate-limit.ts';
import {
  CreateWorkflowRequest,
  ErrorBodySchema,
  ListQuery,
  QueueIdParam,
  WorkflowBatchSchema,
  WorkflowListSchema,
  WorkflowSchema,
} from './schema.ts';

const json = <S extends z.ZodType>(schema: S, description: string) => ({
  description,
  content: { 'application/json': { schema } },
});
const err = (description: string) => json(ErrorBodySchema, description);

/** What the API enforces, so the document declares exactly that (security, 401). */
export interface ApiAuth {
  /** A token is configured: mutating routes need it. */
  token: boolean;
  /** Reads need it too. */
  reads: boolean;
}

const tooLarge = err('Request body over the limit (the message names it)');
const malformedId = err('Malformed queue_id (zod issues)');

/** The routes as the API serves them under `auth`. */
function workflowRoutes(auth: ApiAuth) {
  const unauthorized = err('Missing or wrong bearer token');
  const secured = (
    write: boolean,
  ): { security: { bearerAuth: string[] }[]; unauthorized: Record<number, typeof unauthorized> } =>
    auth.token && (write || auth.reads)
      ? { security: [{ bearerAuth: [] }], unauthorized: { 401: unauthorized } }
      : { security: [], unauthorized: {} };
  const w = secured(true);
  const r = secured(false);

  const create = createRoute({
    method: 'post',
    path: '/workflows',
    tags: ['workflows'],
    summary: 'Start a workflow (one per symbol)',
    description:
      'Stores the workflow, publishes `start` on `queue-control` and launches its job. Ranges are half-open in UTC: ' +
      '`time_range: "2024-08-01:2024-08-02"` (or `start`/`end`) means from 2024-08-01T00:00Z up to, not including, ' +
      '2024-08-02T00:00Z. What is refused at the door, and the bounds (body size, rate, running jobs): ' +
      'docs/api.md; an end in the future is clamped to now (`notes`). With `symbol` the ' +
      'answer is the workflow; with `symbols` it is `{ workflows: [...] }`, one per symbol in request order (graph_build: one workflow, answered alone).',
    security: w.security,
    request: { body: { required: true, content: { 'application/json': { schema: CreateWorkflowRequest } } } },
    responses: {
      201: json(z.union([WorkflowSchema, WorkflowBatchSchema]), 'Created: status `pending`'),
      400: err('Invalid request (zod issues), or a rule of docs/api.md broken (issue names it)'),
      ...w.unauthorized,
      413: tooLarge,
      429: {
        ...err('Too many workflows created by this client; retry after `Retry-After` seconds'),
        headers: { 'Retry-After': { description: 'Seconds to wait', schema: { type: 'integer' } } },
      },
    },
  });

  const list = createRoute({
    method: 'get',
    path: '/workflows',
    tags: ['workflows'],
    summary: 'List workflows, newest first',
    security: r.security,
    request: { query: ListQuery },
    responses: {
      200: json(WorkflowListSchema, 'A page of workflows'),
      400: err('Invalid query'),
      ...r.unauthorized,
    },
  });

  const get = createRoute({
    method: 'get',
    path: '/workflows/{queue_id}',
    tags: ['workflows'],
    summary: 'One workflow with its timeline',
    description:
      'Status, records_written (stored by the sink), progress (pages and records published by the loader), error ' +
      "(the exchange's own code and message, or `stalled` / `job_exit` / `job_lost` / `launch_failed`), timestamps and the " +
      'timeline by event time (transitions kept, progress merged per producer, one late-event note; ≤ 200).',
    security: r.security,
    request: { params: QueueIdParam },
    responses: {
      200: json(WorkflowSchema, 'The workflow'),
      400: malformedId,
      ...r.unauthorized,
      404: err('No such workflow'),
    },
  });

  const action = (verb: 'cancel' | 'retry', description: string) =>
    createRoute({
      method: 'post',
      path: `/workflows/{queue_id}/${verb}`,
      tags: ['workflows'],
      summary: description,
      security: w.security,
      request: { params: QueueIdParam },
      responses: {
        200: json(WorkflowSchema, 'The workflow after the change'),
        400: malformedId,
        ...w.unauthorized,
        413: tooLarge,
        404: err('No such workflow'),
        409: err(verb === 'cancel' ? 'Already finished' : 'Not in error or cancelled'),
      },
    });

  const cancel = action(
    'cancel',
    'Cancel a pending, started or loading workflow (publishes `stop`, stops the job)',
  );
  const retry = action(
    'retry',
    'Retry a workflow in error or cancelled: next attempt, back to pending, job relaunched',
  );
  return { create, list, get, cancel, retry };
}

export function registerWorkflowRoutes(
  app: OpenAPIHono,
  service: WorkflowService,
  limits: { createRate: CreateRateLimit },
  auth: ApiAuth,
): void {
  const { create, list, get, cancel, retry } = workflowRoutes(auth);
  if (auth.token)
    app.openAPIRegistry.registerComponent('securitySchemes', 'bearerAuth', {
      type: 'http',
      scheme: 'bearer',
    });

  app.openapi(create, async (c) => {
    const body = c.req.valid('json');
    // graph_build and gnn_train create one workflow whatever the symbols: answered as one.
    const single = body.symbol !== undefined || body.type === 'graph_build' || body.type === 'gnn_train';
    limits.createRate.take(c, single ? 1 : (body.symbols?.length ?? 1));
    const workflows = await service.create(body);
    const [first] = workflows;
    if (single && first) return c.json(first, 201);
    return c.json({ workflows }, 201);
  });

  app.openapi(list, async (c) => {
    const q = c.req.valid('query');
    const { items, total } = await service.list(q);
    const summaries = items.map(({ timeline: _t, ...rest }) => rest);
    return c.json({ items: summaries, total, limit: q.limit, offset: q.offset }, 200);
  });

  app.openapi(get, async (c) => c.json(await service.get(c.req.valid('param').queue_id), 200));
  app.openapi(cancel, async (c) => c.json(await service.cancel(c.req.valid('param').queue_id), 200));
  app.openapi(retry, async (c) => c.json(await service.retry(c.req.valid('param').queue_id), 200));

  app.doc('/openapi.json', {
    openapi: '3.0.3',
    info: {
      title: 'StreamForge queue-manager',
      version: '0.1.0',
      description:
        'Workflows: start, watch, cancel and retry market-data loads. All time ranges are half-open [start, end) in UTC.',
    },
  });
}
