/**
 * loader-ws metrics, read from the workflows and pools when Prometheus scrapes (no bookkeeping on
 * the hot path). Cumulative figures are counters advanced by what changed since the last scrape.
 * `kind` is a record kind and `market` spot or usdm. The one per-series gauge,
 * `streamforge_live_series_last_record_age_seconds`, has one series per live workflow running in
 * this process (bounded by the workflows the manager started and by the pools' stream caps:
 * schema.ts `maxStreams`); a workflow that stops loses its series at the next scrape.
 */
import type { Counter, Registry } from 'prom-client';
import { exchangeMetrics } from '../../shared/exchange/metrics.ts';
import { counter, gauge, metricsDisabled } from '../../shared/runtime/metrics.ts';
import type { LiveLoader, Totals } from './handler.ts';

export function liveMetrics(
  registry: Registry,
  loader: LiveLoader,
  malformedFrames: { count: number },
  now: () => number = Date.now,
): void {
  if (metricsDisabled()) return;
  const seen = new Map<string, number>();
  const advance = <L extends string>(
    c: Counter<L>,
    value: number,
    labels: Partial<Record<L, string>> = {},
  ) => {
    const key = `${(c as unknown as { name: string }).name}|${JSON.stringify(labels)}`;
    const last = seen.get(key) ?? 0;
    if (value > last) c.inc(labels, value - last);
    seen.set(key, Math.max(last, value));
  };
  const wfs = gauge(registry, 'streamforge_ws_live_workflows', 'Live workflows running');
  const byKind: Array<[keyof Totals, Counter<'kind'>]> = [
    ['received', counter(registry, 'streamforge_ws_messages_total', 'Stream events received', ['kind'])],
    [
      'duplicates',
      counter(registry, 'streamforge_ws_duplicates_total', 'Records received twice and dropped', ['kind']),
    ],
    [
      'gap_fills',
      counter(
        registry,
        'streamforge_ws_gap_fills_total',
        'Holes found in a live series and refilled over REST',
        ['kind'],
      ),
    ],
    [
      'filled_records',
      counter(registry, 'streamforge_ws_refilled_records_total', 'Records refilled over REST after a hole', [
        'kind',
      ]),
    ],
    [
      'unfilled_gaps',
      counter(
        registry,
        'streamforge_ws_unfilled_gaps_total',
        'Holes REST could not fill (recorded as gaps)',
        ['kind'],
      ),
    ],
    [
      'resyncs',
      counter(registry, 'streamforge_ws_book_resyncs_total', 'Order book resynchronisations', ['kind']),
    ],
    [
      'shed',
      counter(
        registry,
        'streamforge_ws_shed_records_total',
        'Live records shed because the bus or store was behind',
        ['kind'],
      ),
    ],
    [
      'malformed',
      counter(
        registry,
        'streamforge_ws_malformed_events_total',
        'Stream events with a missing or mistyped field',
        ['kind'],
      ),
    ],
  ];
  const reconnects = counter(
    registry,
    'streamforge_ws_reconnects_total',
    'Connections replaced after a drop or a silence',
    ['market'],
  );
  const rotations = counter(registry, 'streamforge_ws_rotations_total', 'Make-before-break rotations', [
    'market',
  ]);
  const control = counter(
    registry,
    'streamforge_ws_control_messages_total',
    'SUBSCRIBE/UNSUBSCRIBE messages sent',
    ['market'],
  );
  const badFrames = counter(
    registry,
    'streamforge_ws_malformed_frames_total',
    'Frames that were neither stream events nor replies',
  );
  const conns = gauge(registry, 'streamforge_ws_connections', 'Open exchange connections', ['market']);
  const buffered = gauge(
    registry,
    'streamforge_ws_buffered_records',
    'Records received and not yet published',
  );
  const behind = gauge(
    registry,
    'streamforge_ws_behind_workflows',
    'Live workflows whose bus or store cannot keep up',
  );
  const age = gauge(
    registry,
    'streamforge_live_series_last_record_age_seconds',
    'Per live series: time since the newest record received (its exchange event time; before the first record, since the series was first seen)',
    ['market', 'symbol', 'dataset'],
  );
  const firstSeen = new Map<string, number>();
  const refresh = (): void => {
    for (const [kind, t] of loader.totals()) for (const [field, c] of byKind) advance(c, t[field], { kind });
    advance(badFrames, malformedFrames.count);
    const s = loader.stats();
    for (const market of ['spot', 'usdm'] as const) {
      const p = s.pools[market];
      advance(reconnects, p.reconnects, { market });
      advance(rotations, p.rotations, { market });
      advance(control, p.controlSent, { market });
      conns.set({ market }, p.connections);
    }
    wfs.set(s.workflows);
    let buf = 0;
    let beh = 0;
    for (const wf of loader.workflows()) {
      buf += wf.batcher.buffered;
      if (wf.batcher.behind) beh += 1;
    }
    buffered.set(buf);
    behind.set(beh);
    const t = now();
    // Two workflows on one series: the freshest of them says how fresh the series is.
    const ages = new Map<
      string,
      { labels: { market: string; symbol: string; dataset: string }; sec: number }
    >();
    for (const wf of loader.workflows()) {
      const { market, symbol, dataset } = wf.series;
      const key = `${market}|${symbol}|${dataset}`;
      if (!firstSeen.has(key)) firstSeen.set(key, t);
      const last = wf.counters.last_event_time ?? firstSeen.get(key) ?? t;
      const sec = Math.max(0, (t - last) / 1000);
      const had = ages.get(key);
      if (had === undefined || sec < had.sec) ages.set(key, { labels: { market, symbol, dataset }, sec });
    }
    age.reset();
    for (const { labels, sec } of ages.values()) age.set(labels, sec);
    for (const key of firstSeen.keys()) if (!ages.has(key)) firstSeen.delete(key);
  };
  // Registered first, so its collect (run before each metric is read) refreshes the others in time.
  (wfs as unknown as { collect: () => void }).collect = refresh;
  // Weight used and left, 429/418 answers of the REST clients (gap fills, book snapshots).
  exchangeMetrics(registry);
}
