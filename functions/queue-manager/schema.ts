/**
 * What the queue-manager accepts and answers: zod schemas that validate requests and generate
 * `/openapi.json` (one source for both). Time ranges are half-open in UTC.
 */
import { z } from '@hono/zod-openapi';
import { Market, SafeName, Symbol } from '../../shared/contracts/common.ts';
import { QueueId, Workflow, WorkflowStatus, WorkflowType } from '../../shared/contracts/workflow.ts';

/** At most this many symbols in one request (one workflow each). */
export const MAX_SYMBOLS = 100;

const DAY_RANGE = /^(\d{4}-\d{2}-\d{2}):(\d{4}-\d{2}-\d{2})$/;

/** `YYYY-MM-DD` as UTC midnight in epoch ms; NaN when it is not a real calendar day. */
export function utcDay(text: string): number {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  if (!m) return Number.NaN;
  const t = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  return new Date(t).toISOString().startsWith(text) ? t : Number.NaN;
}

/** ISO-8601 date or date-time (UTC or with an offset) as epoch ms. */
const instant = z
  .union([z.iso.datetime({ offset: true }), z.iso.date()])
  .meta({ description: 'ISO-8601 date-time (`2024-08-01T00:00:00Z`) or date (UTC midnight)' });

/** The workflow type, with one readable message instead of four union branches. */
const RequestType = z
  .union(WorkflowType.options, {
    error:
      'unknown type: expected api_candles_<interval>, bulk_candles_<interval>, ws_candles_<interval>, api_trades, api_agg_trades, api_funding, ws_trades, ws_agg_trades, ws_depth, ws_book_ticker, graph_build or gnn_train',
  })
  .meta({
    description: 'Workflow type in the seed naming, e.g. `api_candles_5m`.',
    example: 'api_candles_5m',
  });

const CreateFields = z.strictObject({
  symbol: Symbol.optional().meta({ description: 'One symbol (`[A-Z0-9]{2,20}`).', example: 'BTCUSDT' }),
  symbols: z
    .array(Symbol)
    .min(1)
    .max(MAX_SYMBOLS)
    .optional()
    .meta({ description: `Several symbols (1..${MAX_SYMBOLS}): one workflow per symbol.` }),
  type: RequestType,
  market: Market.optional().meta({ description: 'Exchange market; default `spot`.' }),
  time_range: z.string().regex(DAY_RANGE, 'time_range must look like 2024-08-01:2024-08-02').optional().meta({
    description:
      'Half-open UTC day range `from:to`: `2024-08-01:2024-08-02` is from 2024-08-01T00:00Z up to, not including, 2024-08-02T00:00Z (one day).',
    example: '2024-08-01:2024-08-02',
  }),
  start: instant
    .optional()
    .meta({ description: 'Inclusive UTC start, instead of `time_range` (with `end`).' }),
  end: instant.optional().meta({ description: 'Exclusive UTC end, instead of `time_range` (with `start`).' }),
  kafka_topic: SafeName.optional().meta({
    description: 'Data topic; default the per-kind topic (`binance-kline`).',
  }),
  collection_name: SafeName.optional().meta({
    description: 'Store collection; default the canonical one per kind (`market_klines`).',
  }),
});
export type CreateWorkflowBody = z.infer<typeof CreateFields>;

/** Resolved half-open range [start, end) in epoch ms, and its informative text. */
export interface ResolvedRange {
  start: number;
  end: number;
  time_range: string;
}

/** The body's range, or null when it gives none or an unparseable one (the schema reports why). */
export function resolveRange(b: CreateWorkflowBody): ResolvedRange | null {
  if (b.time_range !== undefined) {
    const m = DAY_RANGE.exec(b.time_range);
    const start = utcDay(m?.[1] ?? '');
    const end = utcDay(m?.[2] ?? '');
    return Number.isNaN(start) || Number.isNaN(end) ? null : { start, end, time_range: b.time_range };
  }
  if (b.start === undefined || b.end === undefined) return null;
  const start = Date.parse(b.start);
  const end = Date.parse(b.end);
  if (Number.isNaN(start) || Number.isNaN(end)) return null;
  return { start, end, time_range: `${new Date(start).toISOString()}/${new Date(end).toISOString()}` };
}

export const CreateWorkflowRequest = CreateFields.superRefine((b, ctx) => {
  const issue = (path: string, message: string) => ctx.addIssue({ code: 'custom', path: [path], message });
  if ((b.symbol === undefined) === (b.symbols === undefined))
    issue('symbol', 'give exactly one of symbol or symbols');
  if (b.symbols && new Set(b.symbols).size !== b.symbols.length) issue('symbols', 'symbols must not repeat');
  const hasIso = b.start !== undefined || b.end !== undefined;
  if ((b.time_range === undefined) === !hasIso)
    issue('time_range', 'give exactly one of time_range or start/end');
  else if (hasIso && (b.start === undefined || b.end === undefined))
    issue('end', 'start and end go together');
  else {
    const r = resolveRange(b);
    if (!r) issue('time_range', 'time_range must name real calendar days');
    else if (r.end < r.start) issue('time_range', 'range is reversed: its end is before its start');
    else if (r.end === r.start) issue('time_range', 'range is empty: [start, end) is half-open');
  }
  const market = b.market ?? 'spot';
  if (b.type === 'api_funding' && market !== 'usdm') issue('market', 'api_funding needs market usdm');
  if (b.type.endsWith('_candles_1s') && market !== 'spot') issue('market', '1s candles exist on spot only');
}).openapi('CreateWorkflowRequest');

/*
 * Schemas from shared/contracts may have been built before @hono/zod-openapi extended zod, so
 * they lack `.openapi()`; `.meta()` returns a fresh instance that has it.
 */
export const WorkflowSchema = Workflow.meta({ description: 'A workflow with its timeline' }).openapi(
  'Workflow',
);
export const WorkflowSummarySchema = Workflow.omit({ timeline: true }).openapi('WorkflowSummary');
export const WorkflowBatchSchema = z.object({ workflows: z.array(Workflow) }).openapi('WorkflowBatch', {
  description: 'Answer to a request with `symbols`: one workflow per symbol, in order.',
});

export const WorkflowListSchema = z
  .object({
    items: z.array(WorkflowSummarySchema),
    total: z.number().int().nonnegative(),
    limit: z.number().int().positive(),
    offset: z.number().int().nonnegative(),
  })
  .openapi('WorkflowList', { description: 'Workflows, newest first, without their timelines.' });

export const ListQuery = z.object({
  status: WorkflowStatus.optional(),
  symbol: Symbol.optional(),
  type: RequestType.optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  offset: z.coerce.number().int().min(0).default(0),
});

export const QueueIdParam = z.object({
  queue_id: QueueId.meta({ description: 'The workflow id' }).openapi({
    param: { name: 'queue_id', in: 'path' },
    example: 'wf-btcusdt-api_candles_5m-20240801-a1b2c3',
  }),
});

export const ErrorBodySchema = z
  .object({ error: z.string(), issues: z.array(z.unknown()).optional() })
  .openapi('ErrorBody', {
    description: 'Every error answer: a message and, for invalid input, the zod issues.',
  });
