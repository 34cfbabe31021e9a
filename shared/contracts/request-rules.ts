/**
 * What a history request must satisfy to be able to succeed, in one place: the queue-manager
 * refuses a workflow that breaks a rule at `POST /workflows` (400 with the issue; a type whose
 * function is not built yet is refused too, naming the ones that are), the CLI checks the same rules before it sends, and a loader
 * refuses a command that breaks one with the same message (a forged or stale `queue-control`
 * command). docs/api.md lists them for users.
 *
 * - The series must exist: 1s klines are spot only, funding is USD-M only, trades and aggTrades
 *   are loaded for spot only over REST (USD-M's aggTrades allow one-hour windows at weight 20,
 *   docs/binance.md §6; the archive loader is where they will come from).
 * - Time: nothing before the market opened (spot 2017-07-14, USD-M 2019-09-08), nothing that has
 *   not happened yet. A range that starts in the past and ends in the future is clamped to now
 *   and the workflow says so in its `notes`; one that starts at or after now is refused.
 * - Live types (loader-ws) take no range: they start now and run until an optional future `end`
 *   (`checkLive`); a workflow without one gets LIVE_OPEN_END.
 * - Size: at most `maxCandles` candles per workflow (per interval: 5,000,000 is 9.5 years of 1m,
 *   58 days of 1s) and `maxTradeDays` days of trades or aggTrades; configurable on the manager.
 */
import { z } from 'zod';
import { intervalMs, KlineInterval, Market } from './common.ts';
import { DAY_RANGE_PATTERN } from './time-text.ts';
import type { Dataset } from './records.ts';
import { CANDLE_TYPES, planFor, WorkflowType, type Target } from './workflow.ts';
import { GraphParams, GraphRequest, graphIssues } from './analytics.ts';

/** First day each market traded (UTC midnight): Binance spot opened 2017-07-14, USD-M 2019-09-08. */
export const MARKET_OPENED: Readonly<Record<Market, number>> = {
  spot: Date.UTC(2017, 6, 14),
  usdm: Date.UTC(2019, 8, 8),
};

/** Functions that exist today; a workflow type whose target is not here is refused. */
export const BUILT_TARGETS: ReadonlySet<Target> = new Set<Target>([
  'loader-api',
  'loader-bulk',
  'loader-ws',
  'graph-builder',
  'gnn-trainer',
]);

/** The workflow types that can run today: those whose target is in BUILT_TARGETS (a test checks). */
export const BuiltWorkflowType = z.union([...CANDLE_TYPES, WorkflowType.options[3]]);

/** The types that can run today, for messages: `api_candles_<interval>, api_trades, ...`. */
export const BUILT_TYPES_TEXT =
  'api_candles_<interval> (1s spot only), api_trades (spot), api_agg_trades (spot), api_funding (usdm), ' +
  'bulk_candles_<interval> (1s spot only), bulk_trades, bulk_agg_trades, ' +
  'ws_candles_<interval> (1s spot only), ws_trades, ws_agg_trades, ws_book_ticker, ws_depth (live), ' +
  'graph_build, gnn_train';

/** The end of a live workflow given no `end`: it runs until cancelled (9999-12-31T23:59:59.999Z). */
export const LIVE_OPEN_END = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

/** Live types (loader-ws) take no range: they start now and run until `end` or a cancel. */
export function isLiveType(type: WorkflowType): boolean {
  return planFor(type).target === 'loader-ws';
}

export interface RangeLimits {
  /** Most candles one workflow may ask for. */
  maxCandles: number;
  /** Most days of trades or aggTrades one workflow may ask for. */
  maxTradeDays: number;
}

export const DEFAULT_RANGE_LIMITS: RangeLimits = { maxCandles: 5_000_000, maxTradeDays: 31 };

const DAY_MS = 86_400_000;

/** `time_range` of a request: `from:to` real UTC calendar days, half-open. */
export const DAY_RANGE = DAY_RANGE_PATTERN;

/** `YYYY-MM-DD` as UTC midnight in epoch ms; NaN when it is not a real calendar day. */
export function utcDay(text: string): number {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  if (!m) return Number.NaN;
  // setUTCFullYear, not Date.UTC: the latter reads years 0..99 as 1900..1999.
  const t = new Date(0).setUTCFullYear(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  return new Date(t).toISOString().startsWith(text) ? t : Number.NaN;
}

/** Resolved half-open range [start, end) in epoch ms, and its informative text. */
export interface ResolvedRange {
  start: number;
  end: number;
  time_range: string;
}

/** A request's range from `time_range` or `start`/`end`; null when it gives none or an unparseable one. */
export function rangeOf(b: {
  time_range?: string | undefined;
  start?: string | undefined;
  end?: string | undefined;
}): ResolvedRange | null {
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

/** Why a series cannot be loaded over REST; null when it can. */
export function unsupportedSeries(market: Market, dataset: Dataset): string | null {
  if (dataset.startsWith('klines_')) {
    const interval = KlineInterval.parse(dataset.slice('klines_'.length));
    return market === 'usdm' && interval === '1s' ? '1s klines exist on spot only' : null;
  }
  switch (dataset) {
    case 'trades':
    case 'agg_trades':
      return market === 'spot' ? null : `${dataset} are loaded for spot only`;
    case 'funding':
      return market === 'usdm' ? null : 'funding rates exist on USD-M only';
    default:
      return `${dataset} has no REST history`;
  }
}

/**
 * Why a series has no files in the public archive (data.binance.vision, docs/binance.md §5) that
 * loader-bulk reads; null when it has. Its REST fallback then follows {@link unsupportedSeries}.
 */
export function archiveUnsupported(market: Market, dataset: Dataset): string | null {
  if (dataset.startsWith('klines_')) {
    const interval = KlineInterval.parse(dataset.slice('klines_'.length));
    return market === 'usdm' && interval === '1s' ? '1s klines exist on spot only' : null;
  }
  return dataset === 'trades' || dataset === 'agg_trades' ? null : `${dataset} has no archive files`;
}

/** Null when the type's function is built; else why not, naming the types that are. */
export function notBuiltReason(type: WorkflowType): string | null {
  const { target } = planFor(type);
  if (BUILT_TARGETS.has(target)) return null;
  return `workflow type ${type} is not built yet (it needs ${target}); built: ${BUILT_TYPES_TEXT}`;
}

/** One broken rule, zod-issue shaped so every 400 reads the same. */
export interface RuleIssue {
  code: 'custom';
  path: string[];
  message: string;
}

export interface RequestCheck {
  issues: RuleIssue[];
  /** The end to load up to: `end`, or now when the range reaches into the future. */
  end: number;
  /** What was adjusted, for the workflow's `notes`. */
  notes: string[];
}

const iso = (t: number) => new Date(t).toISOString();

/**
 * Checks a (built) type's market and half-open range [start, end) against the rules above.
 * `limits` is the manager's policy; a loader passes none and checks the rest.
 */
export function checkRequest(
  r: { type: WorkflowType; market: Market; start: number; end: number },
  o: { now: number; limits?: RangeLimits | undefined },
): RequestCheck {
  const issues: RuleIssue[] = [];
  const notes: string[] = [];
  const issue = (path: string, message: string) => issues.push({ code: 'custom', path: [path], message });
  const plan = planFor(r.type);
  if (plan.dataset) {
    const why =
      plan.target === 'loader-bulk'
        ? archiveUnsupported(r.market, plan.dataset)
        : unsupportedSeries(r.market, plan.dataset);
    if (why) issue('market', `${r.type} on ${r.market}: ${why}`);
  }
  const opened = MARKET_OPENED[r.market];
  let end = r.end;
  if (r.end < r.start) issue('end', 'range is reversed: its end is before its start');
  else if (r.end === r.start) issue('end', 'range is empty: [start, end) is half-open');
  else if (r.start < opened)
    issue('start', `start ${iso(r.start)} is before ${r.market} opened (${iso(opened).slice(0, 10)})`);
  else if (r.start >= o.now) issue('start', `start ${iso(r.start)} is not in the past (now ${iso(o.now)})`);
  else if (r.end > o.now) {
    end = o.now;
    notes.push(`end clamped from ${iso(r.end)} to ${iso(o.now)}: later data does not exist yet`);
  }
  if (issues.length === 0 && o.limits) {
    const span = end - r.start;
    if (plan.interval && plan.interval !== '1M') {
      const candles = Math.ceil(span / intervalMs(plan.interval));
      if (candles > o.limits.maxCandles)
        issue(
          'end',
          `the range holds ${candles} ${plan.interval} candles; at most ${o.limits.maxCandles} per workflow ` +
            '(split it into several workflows, or raise MAX_RANGE_CANDLES)',
        );
    } else if (plan.dataset === 'trades' || plan.dataset === 'agg_trades') {
      const days = span / DAY_MS;
      if (days > o.limits.maxTradeDays)
        issue(
          'end',
          `the range spans ${days.toFixed(1)} days of ${plan.dataset}; at most ${o.limits.maxTradeDays} per ` +
            'workflow (split it, or raise MAX_RANGE_TRADE_DAYS)',
        );
    }
  }
  return { issues, end, notes };
}

/**
 * Checks a live request: no range (it starts now), an optional `end` in the future, a series
 * the exchange streams (1s klines are spot only). The workflow's [start, end) is [now, end).
 */
export function checkLive(
  r: { type: WorkflowType; market: Market; time_range?: unknown; start?: unknown; end?: string | undefined },
  o: { now: number },
): { issues: RuleIssue[]; start: number; end: number; time_range: string } {
  const issues: RuleIssue[] = [];
  const issue = (path: string, message: string) => issues.push({ code: 'custom', path: [path], message });
  if (r.time_range !== undefined)
    issue('time_range', `${r.type} is live: it takes no time_range (it starts now; give \`end\` to stop it)`);
  if (r.start !== undefined) issue('start', `${r.type} is live: it starts now and takes no start`);
  const plan = planFor(r.type);
  if (r.market === 'usdm' && plan.interval === '1s')
    issue('market', `${r.type} on usdm: 1s klines exist on spot only`);
  let end = LIVE_OPEN_END;
  if (r.end !== undefined) {
    end = Date.parse(r.end);
    if (Number.isNaN(end)) issue('end', `end ${r.end} is not an instant`);
    else if (end <= o.now) issue('end', `end ${r.end} is not in the future`);
  }
  const time_range = end === LIVE_OPEN_END ? `live from ${iso(o.now)}` : `live ${iso(o.now)}/${iso(end)}`;
  return { issues, start: o.now, end, time_range };
}

/**
 * What the API would refuse in a request body, judged before sending it (the CLI): 400 with the
 * issues for a type not built or a broken rule, null when these rules pass or the body is too
 * malformed to judge here (the API's own validation then answers). The manager's limits are its
 * own, so they are not checked here.
 */
export function refusalOf(
  b: {
    type?: unknown;
    market?: unknown;
    time_range?: string;
    start?: string;
    end?: string;
    symbols?: unknown;
    graph?: unknown;
  },
  now: number,
): { status: 400; message: string; issues: RuleIssue[] } | null {
  const type = WorkflowType.safeParse(b.type);
  if (!type.success) return null;
  const unbuilt = notBuiltReason(type.data);
  if (unbuilt)
    return {
      status: 400,
      message: 'invalid request json',
      issues: [{ code: 'custom', path: ['type'], message: unbuilt }],
    };
  const market = b.market === undefined ? 'spot' : Market.safeParse(b.market).data;
  if (market !== undefined && isLiveType(type.data)) {
    const live = checkLive({ ...b, type: type.data, market }, { now });
    return live.issues.length === 0
      ? null
      : { status: 400, message: 'invalid request json', issues: live.issues };
  }
  const range = rangeOf(b);
  if (market === undefined || range === null) return null;
  const { issues, end } = checkRequest(
    { type: type.data, market, start: range.start, end: range.end },
    { now },
  );
  if (issues.length > 0)
    return {
      status: 400,
      message: 'invalid request json',
      issues: asGiven(issues, b.time_range !== undefined),
    };
  if (type.data !== 'graph_build') return null;
  const graph = GraphRequest.safeParse(b.graph ?? {});
  const symbols = z.array(z.string()).safeParse(b.symbols);
  if (!graph.success || !symbols.success || symbols.data.length < 2) return null;
  const params = GraphParams.safeParse({
    ...graph.data,
    symbols: symbols.data,
    market,
    start: range.start,
    end,
  });
  if (!params.success) return null;
  const graphProblems = graphIssues(params.data).map((i) => ({ code: 'custom' as const, ...i }));
  return graphProblems.length === 0
    ? null
    : { status: 400, message: 'invalid request json', issues: graphProblems };
}

/** Issues named after the field the user gave: `time_range`, or `start`/`end`. */
export function asGiven(issues: RuleIssue[], usedTimeRange: boolean): RuleIssue[] {
  if (!usedTimeRange) return issues;
  return issues.map((i) => (i.path[0] === 'market' ? i : { ...i, path: ['time_range'] }));
}
