/**
 * What the queue-manager accepts and answers: zod schemas that validate requests and generate
 * `/openapi.json` (one source for both). Time ranges are half-open in UTC.
 */
import { z } from '@hono/zod-openapi';
import { Market, SafeName, Symbol } from '../../shared/contracts/common.ts';
import {
  BUILT_TYPES_TEXT,
  BuiltWorkflowType,
  DAY_RANGE,
  isLiveType,
  notBuiltReason,
  rangeOf,
  type ResolvedRange,
} from '../../shared/contracts/request-rules.ts';
import { INSTANT_PATTERN } from '../../shared/contracts/time-text.ts';
import { QueueId, Workflow, WorkflowStatus, WorkflowType } from '../../shared/contracts/workflow.ts';
import { GnnRequest, GraphRequest } from '../../shared/contracts/analytics.ts';

/** Largest `offset` of a list (a page past the end is empty, not an error). */
const MAX_OFFSET = 1_000_000_000;

/** At most this many symbols in one request (one workflow each). */
export const MAX_SYMBOLS = 100;

/** ISO-8601 date (UTC midnight) or date-time with a zone; the pattern is the whole rule. */
const instant = z
  .string()
  .regex(
    INSTANT_PATTERN,
    'expected an ISO-8601 date (2024-08-01) or date-time with a zone (2024-08-01T00:00:00Z)',
  )
  .openapi({ pattern: INSTANT_PATTERN.source });

/** Any workflow type (list filters), with one readable message instead of four union branches. */
const RequestType = z
  .union(WorkflowType.options, {
    error:
      'unknown type: expected api_candles_<interval>, bulk_candles_<interval>, ws_candles_<interval>, api_trades, api_agg_trades, api_funding, ws_trades, ws_agg_trades, ws_depth, ws_book_ticker, graph_build or gnn_train',
  })
  .meta({
    description: 'Workflow type in the seed naming, e.g. `api_candles_5m`.',
    example: 'api_candles_5m',
  });

/** A type that can run today; a known type whose function is not built yet is named as such. */
const CreateType = z
  .union(BuiltWorkflowType.options, {
    error: (iss) => {
      const known = WorkflowType.safeParse(iss.input);
      const reason = known.success ? notBuiltReason(known.data) : null;
      return reason ?? `unknown type: expected ${BUILT_TYPES_TEXT}`;
    },
  })
  .meta({
    description: `A workflow type that runs today: ${BUILT_TYPES_TEXT}.`,
    example: 'api_candles_5m',
  });

const CreateFields = z.strictObject({
  symbol: Symbol.optional().meta({ description: 'One symbol (`[A-Z0-9]{2,20}`).', example: 'BTCUSDT' }),
  symbols: z
    .array(Symbol)
    .min(1)
    .max(MAX_SYMBOLS)
    .optional()
    .meta({ description: `Several symbols (1..${MAX_SYMBOLS}), no repeats: one workflow per symbol.` })
    .openapi({ uniqueItems: true }),
  type: CreateType,
  market: Market.optional().meta({ description: 'Exchange market; default `spot`.' }),
  time_range: z
    .string()
    .regex(DAY_RANGE, 'time_range must be two real calendar days, like 2024-08-01:2024-08-02')
    .openapi({ pattern: DAY_RANGE.source })
    .optional()
    .meta({
      description:
        'Half-open UTC day range `from:to`: `2024-08-01:2024-08-02` is from 2024-08-01T00:00Z up to, not including, 2024-08-02T00:00Z (one day).',
      example: '2024-08-01:2024-08-02',
    }),
  start: instant.optional().meta({
    description: 'Inclusive UTC start, instead of `time_range` (with `end`).',
    example: '2024-08-01T00:00:00Z',
  }),
  end: instant.optional().meta({
    description:
      'Exclusive UTC end, instead of `time_range` (with `start`); after `start`. For a live type (`ws_*`), alone: when it stops.',
    example: '2024-08-02T00:00:00Z',
  }),
  kafka_topic: SafeName.optional().meta({
    description: 'Data topic; default the per-kind topic (`binance-kline`).',
  }),
  collection_name: SafeName.optional().meta({
    description: 'Store collection; default the canonical one per kind (`market_klines`).',
  }),
  graph: GraphRequest.optional().meta({
    description:
      '`graph_build` only: interval, rolling `window` and `step` (durations such as `30d`, `1d`), methods ' +
      '(pearson, spearman, lead_lag, partial), max_lag, alpha (Benjamini–Hochberg FDR), top_k, min_coverage. ' +
      'Defaults: 1h, 30d, 1d, all four methods, 3, 0.01, 5, 0.9 (docs/analytics.md).',
  }),
  gnn: GnnRequest.optional().meta({
    description:
      '`gnn_train` only (required): `graph_id` (a graph_build queue id, `GET /graphs`), architecture (gcn or gat), ' +
      'edge_method, lags, hidden, heads, epochs, patience, learning_rate, split [train, validation, test], seed.',
  }),
});
export type CreateWorkflowBody = z.infer<typeof CreateFields>;

/** The body's range, or null when it gives none or an unparseable one (the schema reports why). */
export const resolveRange = (b: CreateWorkflowBody): ResolvedRange | null => rangeOf(b);

export const CreateWorkflowRequest = CreateFields.superRefine((b, ctx) => {
  const issue = (path: string, message: string) => ctx.addIssue({ code: 'custom', path: [path], message });
  if (b.graph !== undefined && b.type !== 'graph_build')
    issue('graph', 'graph goes with type graph_build only');
  if (b.gnn !== undefined && b.type !== 'gnn_train') issue('gnn', 'gnn goes with type gnn_train only');
  if (b.type === 'gnn_train') {
    // Symbols, market and range are the graph's.
    if (b.gnn === undefined) issue('gnn', 'gnn_train needs `gnn` with the graph_id to train on');
    for (const f of ['symbol', 'symbols', 'market', 'time_range', 'start', 'end'] as const)
      if (b[f] !== undefined) issue(f, `gnn_train takes no ${f}: it trains on the graph's symbols and range`);
    return;
  }
  if (b.type === 'graph_build' && (b.symbols?.length ?? 0) < 2)
    issue('symbols', 'graph_build needs `symbols`: at least 2 (one graph over all of them)');
  if ((b.symbol === undefined) === (b.symbols === undefined))
    issue('symbol', 'give exactly one of symbol or symbols');
  if (b.symbols && new Set(b.symbols).size !== b.symbols.length) issue('symbols', 'symbols must not repeat');
  // Live types start now and take only an optional `end` (checkLive in request-rules.ts says so).
  if (isLiveType(b.type)) return;
  const hasIso = b.start !== undefined || b.end !== undefined;
  if ((b.time_range === undefined) === !hasIso)
    issue('time_range', 'give exactly one of time_range or start/end');
  else if (hasIso && (b.start === undefined || b.end === undefined))
    issue('end', 'start and end go together');
  else if (!resolveRange(b)) issue('time_range', 'time_range must name real calendar days');
  // Market, time and size rules need the clock and the manager's limits: handler.ts applies
  // them (shared/contracts/request-rules.ts, one source with the CLI and the loaders).
}).openapi('CreateWorkflowRequest', {
  // The exclusive fields as JSON Schema states them (the refinement above is zod's copy):
  // exactly one of symbol/symbols, and either time_range alone or start and end together.
  // Rules that need the clock or compare fields are in the description (docs/api.md).
  description:
    'Also refused with 400 (docs/api.md): a start before the market opened (spot 2017-07-14, usdm ' +
    '2019-09-08) or not in the past; an end not after the start; `1s` candles on usdm, funding on spot, ' +
    'trades or aggTrades on usdm; more candles or trade days than the configured maximum. An end in ' +
    'the future is clamped to now (see `notes`). Live types (`ws_*`) take no time_range and no start: ' +
    'they start now and run until an optional future `end` or a cancel. `graph_build` takes `symbols` (2 or ' +
    'more: one workflow, one graph) and a range; its window must fit in the range. `gnn_train` takes only ' +
    '`gnn` (the graph it names gives symbols and range); an unknown graph_id is refused.',
  // OpenAPI 3.0 has no if/then/else or const (validators ignore them): the branches below document
  // the type rules; what the exclusive fields can state is the oneOf. gnn_train names its graph
  // (`gnn`) instead of symbols; graph_build needs `symbols` (2 or more).
  allOf: [
    { oneOf: [{ required: ['symbol'] }, { required: ['symbols'] }] },
    {
      // Live types (`ws_*`) start now: no time_range, no start, an optional end.
      if: { required: ['type'], properties: { type: { pattern: '^ws_' } } },
      then: { not: { anyOf: [{ required: ['time_range'] }, { required: ['start'] }] } },
      else: {
        oneOf: [
          { required: ['time_range'], not: { anyOf: [{ required: ['start'] }, { required: ['end'] }] } },
          { required: ['start', 'end'], not: { required: ['time_range'] } },
        ],
      },
    },
  ],
} as never);

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
  limit: z
    .string()
    .regex(/^[0-9]+$/, 'limit must be an integer')
    .transform(Number)
    .pipe(z.number().int().min(1).max(500))
    .default(50)
    .openapi({ type: 'integer', minimum: 1, maximum: 500, default: 50, description: 'Page size, 1..500' }),
  offset: z
    .string()
    .regex(/^[0-9]+$/, 'offset must be an integer')
    .transform(Number)
    .pipe(z.number().int().min(0).max(MAX_OFFSET))
    .default(0)
    .openapi({
      type: 'integer',
      minimum: 0,
      maximum: MAX_OFFSET,
      default: 0,
      description: `Workflows to skip, 0..${MAX_OFFSET}`,
    }),
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
