/**
 * A small client for the queue-manager's workflow API. Answers are checked with the same zod
 * schemas the manager serves, so a version mismatch shows as a clear error, not a crash later.
 */
import { z } from 'zod';
import { Workflow } from '../../shared/contracts/workflow.ts';

/** A request the manager refused (4xx/5xx), with its `{ error, issues }` body. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly issues: unknown[] | undefined,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** The manager could not be reached at all. */
export class UnreachableError extends Error {
  override name = 'UnreachableError';
}

const ErrorBody = z.object({ error: z.string(), issues: z.array(z.unknown()).optional() });
const Created = z.union([Workflow, z.object({ workflows: z.array(Workflow) })]);
const WorkflowList = z.object({
  items: z.array(Workflow.omit({ timeline: true })),
  total: z.number(),
  limit: z.number(),
  offset: z.number(),
});
export type WorkflowSummary = z.infer<typeof WorkflowList>['items'][number];

export interface ListParams {
  status?: string | undefined;
  symbol?: string | undefined;
  type?: string | undefined;
  limit?: number | undefined;
  offset?: number | undefined;
}

export interface ManagerClient {
  submit(body: Record<string, unknown>): Promise<Workflow[]>;
  get(queueId: string): Promise<Workflow>;
  list(p: ListParams): Promise<z.infer<typeof WorkflowList>>;
  cancel(queueId: string): Promise<Workflow>;
  retry(queueId: string): Promise<Workflow>;
}

export function createClient(opts: { url: string; token?: string | undefined }): ManagerClient {
  const base = opts.url.replace(/\/+$/, '');

  async function call<S extends z.ZodType>(
    schema: S,
    method: string,
    path: string,
    body?: unknown,
  ): Promise<z.infer<S>> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (opts.token) headers['authorization'] = `Bearer ${opts.token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await fetch(`${base}${path}`, {
        method,
        headers,
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    } catch (err) {
      const cause = err instanceof Error && err.cause instanceof Error ? `: ${err.cause.message}` : '';
      throw new UnreachableError(`cannot reach ${base}${cause}`);
    }
    const text = await res.text();
    let payload: unknown;
    try {
      payload = text === '' ? undefined : JSON.parse(text);
    } catch {
      payload = text;
    }
    if (!res.ok) {
      const e = ErrorBody.safeParse(payload);
      throw new ApiError(
        res.status,
        e.success ? e.data.error : `HTTP ${res.status}`,
        e.success ? e.data.issues : undefined,
      );
    }
    const parsed = schema.safeParse(payload);
    if (!parsed.success)
      throw new ApiError(res.status, `unexpected answer from ${method} ${path}`, parsed.error.issues);
    return parsed.data;
  }

  const id = (queueId: string) => encodeURIComponent(queueId);
  return {
    async submit(body) {
      const r = await call(Created, 'POST', '/workflows', body);
      return 'workflows' in r ? r.workflows : [r];
    },
    get: (queueId) => call(Workflow, 'GET', `/workflows/${id(queueId)}`),
    list: (p) => {
      const q = new URLSearchParams();
      for (const [k, v] of Object.entries(p)) if (v !== undefined) q.set(k, String(v));
      const qs = q.toString();
      return call(WorkflowList, 'GET', `/workflows${qs ? `?${qs}` : ''}`);
    },
    cancel: (queueId) => call(Workflow, 'POST', `/workflows/${id(queueId)}/cancel`),
    retry: (queueId) => call(Workflow, 'POST', `/workflows/${id(queueId)}/retry`),
  };
}
