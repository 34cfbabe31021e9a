/**
 * A small client for the queue-manager's workflow and series API. Answers are checked with the same zod
 * schemas the manager serves, so a version mismatch shows as a clear error, not a crash later.
 */
import { GraphInfo, ModelInfo } from '../../shared/contracts/analytics.ts';
import { z } from 'zod';
import { Workflow } from '../../shared/contracts/workflow.ts';

/** Which request failed: for the messages (the URL tried) and the token hint. */
export interface SentRequest {
  method: string;
  url: string;
  /** Whether a bearer token was sent. */
  token: boolean;
}

/** A request the manager refused (4xx/5xx), with its `{ error, issues }` body when it sent one. */
export class ApiError extends Error {
  override name = 'ApiError';
  constructor(
    readonly status: number,
    /** The body's `error`; undefined when the answer was not the manager's error body. */
    readonly serverMessage: string | undefined,
    readonly issues: unknown[] | undefined,
    readonly request: SentRequest,
    /** `Retry-After` in seconds (429, 503), when the answer had a readable one. */
    readonly retryAfterS?: number,
  ) {
    super(serverMessage ?? `HTTP ${status}`);
  }
}

/** The manager could not be reached at all (refused, unknown host, reset...). */
export class UnreachableError extends Error {
  override name = 'UnreachableError';
  constructor(
    readonly request: SentRequest,
    /** Why, from the network error: `connect ECONNREFUSED 127.0.0.1:8080`. */
    readonly reason: string,
    /** The system error code, e.g. `ECONNREFUSED`, when there is one. */
    readonly code: string | undefined,
  ) {
    super(`cannot reach ${request.url}${reason ? `: ${reason}` : ''}`);
  }
}

/** A 2xx answer that does not match the schema: a CLI and a manager of different versions. */
export class UnexpectedAnswerError extends Error {
  override name = 'UnexpectedAnswerError';
  constructor(
    readonly request: SentRequest,
    readonly status: number,
    readonly issues: unknown[],
  ) {
    super(`unexpected answer from ${request.method} ${request.url} (HTTP ${status})`);
  }
}

/** The network error's cause as text and code (undici wraps it: `fetch failed` → cause). */
function networkCause(err: unknown): { reason: string; code: string | undefined } {
  let cause: unknown = err instanceof Error && err.cause !== undefined ? err.cause : err;
  // Several addresses tried (localhost → ::1 and 127.0.0.1): an AggregateError with an empty message.
  if (cause instanceof AggregateError && cause.message === '' && cause.errors[0] !== undefined)
    cause = cause.errors[0];
  const code =
    typeof cause === 'object' && cause !== null && 'code' in cause && typeof cause.code === 'string'
      ? cause.code
      : undefined;
  const reason = cause instanceof Error ? cause.message || (code ?? '') : String(cause);
  return { reason, code };
}

/** `Retry-After`: delay-seconds or an HTTP date (RFC 9110 §10.2.3), as whole seconds from now. */
export function retryAfterSeconds(value: string | null, now = Date.now()): number | undefined {
  if (value === null || value.trim() === '') return undefined;
  if (/^\s*\d+\s*$/.test(value)) return Number(value);
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - now) / 1000));
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

const Span = z.object({ from: z.number(), to: z.number() });
const SeriesSummary = z.object({
  market: z.string(),
  symbol: z.string(),
  dataset: z.string(),
  count: z.number(),
  first: z.number().nullable(),
  last: z.number().nullable(),
});
export type SeriesSummary = z.infer<typeof SeriesSummary>;
const SeriesList = z.object({ items: z.array(SeriesSummary) });
const SeriesDetail = SeriesSummary.extend({ covered: z.array(Span), gaps: z.array(Span) });
export type SeriesDetail = z.infer<typeof SeriesDetail>;

/** Which series: the path of `/series/{market}/{symbol}/{dataset}`. */
export interface SeriesRef {
  market: string;
  symbol: string;
  dataset: string;
}

/** A 2xx answer whose body is a file, not read yet. */
export interface Download {
  body: ReadableStream<Uint8Array>;
  headers: Headers;
  request: SentRequest;
}

export interface ManagerClient {
  submit(body: Record<string, unknown>): Promise<Workflow[]>;
  get(queueId: string): Promise<Workflow>;
  list(p: ListParams): Promise<z.infer<typeof WorkflowList>>;
  cancel(queueId: string): Promise<Workflow>;
  retry(queueId: string): Promise<Workflow>;
  graphs(): Promise<{ items: GraphInfo[]; total: number }>;
  models(): Promise<{ items: ModelInfo[]; total: number }>;
  model(id: string): Promise<ModelInfo>;
  predict(id: string): Promise<z.infer<typeof Prediction>>;
  series(): Promise<z.infer<typeof SeriesList>>;
  seriesDetail(s: SeriesRef): Promise<SeriesDetail>;
  /** GET /series/{…}/export: the file's body as a stream (errors as for every other call). */
  exportFile(
    s: SeriesRef,
    q: { format: string; from?: string | undefined; to?: string | undefined },
  ): Promise<Download>;
}

const GraphList = z.object({ items: z.array(GraphInfo), total: z.number() });
const ModelList = z.object({ items: z.array(ModelInfo), total: z.number() });
const Prediction = z.object({
  model_id: z.string(),
  time: z.number(),
  snapshot_t: z.number(),
  backend: z.string(),
  predictions: z.array(z.object({ symbol: z.string(), p_up: z.number(), direction: z.string() })),
});

const seriesPath = (s: SeriesRef) =>
  `/series/${[s.market, s.symbol, s.dataset].map(encodeURIComponent).join('/')}`;

export function createClient(opts: { url: string; token?: string | undefined }): ManagerClient {
  const base = opts.url.replace(/\/+$/, '');

  /** Sends a request; a non-2xx answer throws ApiError, a network failure UnreachableError. */
  async function send(
    method: string,
    path: string,
    body?: unknown,
    accept = 'application/json',
  ): Promise<{ res: Response; request: SentRequest }> {
    const headers: Record<string, string> = { accept };
    if (opts.token) headers['authorization'] = `Bearer ${opts.token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const request: SentRequest = { method, url: `${base}${path}`, token: Boolean(opts.token) };
    let res: Response;
    try {
      res = await fetch(request.url, {
        method,
        headers,
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    } catch (err) {
      const { reason, code } = networkCause(err);
      throw new UnreachableError(request, reason, code);
    }
    if (!res.ok) await refused(res, request);
    return { res, request };
  }

  async function readText(res: Response, request: SentRequest): Promise<string> {
    try {
      return await res.text();
    } catch (err) {
      // The connection broke while the body was read: as unreachable as a refused one.
      const { reason, code } = networkCause(err);
      throw new UnreachableError(request, reason, code);
    }
  }

  function parseBody(text: string): unknown {
    try {
      return text === '' ? undefined : JSON.parse(text);
    } catch {
      return text;
    }
  }

  /** Throws the ApiError of a non-2xx answer. */
  async function refused(res: Response, request: SentRequest): Promise<never> {
    const e = ErrorBody.safeParse(parseBody(await readText(res, request)));
    throw new ApiError(
      res.status,
      e.success ? e.data.error : undefined,
      e.success ? e.data.issues : undefined,
      request,
      retryAfterSeconds(res.headers.get('retry-after')),
    );
  }

  async function call<S extends z.ZodType>(
    schema: S,
    method: string,
    path: string,
    body?: unknown,
  ): Promise<z.infer<S>> {
    const { res, request } = await send(method, path, body);
    const payload = parseBody(await readText(res, request));
    const parsed = schema.safeParse(payload);
    if (!parsed.success) throw new UnexpectedAnswerError(request, res.status, parsed.error.issues);
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
    graphs: () => call(GraphList, 'GET', '/graphs?limit=500'),
    models: () => call(ModelList, 'GET', '/models?limit=500'),
    model: (modelId) => call(ModelInfo, 'GET', `/models/${id(modelId)}`),
    predict: (modelId) => call(Prediction, 'POST', `/models/${id(modelId)}/predict`),
    series: () => call(SeriesList, 'GET', '/series'),
    seriesDetail: (s) => call(SeriesDetail, 'GET', seriesPath(s)),
    async exportFile(s, q) {
      const query = new URLSearchParams({ format: q.format });
      if (q.from !== undefined) query.set('from', q.from);
      if (q.to !== undefined) query.set('to', q.to);
      const { res, request } = await send(
        'GET',
        `${seriesPath(s)}/export?${query.toString()}`,
        undefined,
        '*/*',
      );
      if (res.body === null) throw new UnexpectedAnswerError(request, res.status, ['no body']);
      return { body: res.body, headers: res.headers, request };
    },
  };
}
