/**
 * What `npm start` prints for a person: where everything runs, how to start a workflow, and a
 * short demo workflow followed from `pending` to its end (brief: "starts the platform and runs
 * its main job on the embedded default"). It talks to the manager over HTTP like any client.
 */
import { z } from 'zod';
import type { Platform } from './platform.ts';

export type Print = (line: string) => void;

/** The demo: one day of BTCUSDT 1m candles (1440 of them, two exchange pages). */
export const DEMO_REQUEST = {
  symbol: 'BTCUSDT',
  type: 'api_candles_1m',
  time_range: '2024-08-01:2024-08-02',
} as const;

const TERMINAL = new Set(['completed', 'error', 'cancelled']);

const WorkflowView = z.looseObject({
  queue_id: z.string(),
  status: z.string(),
  records_written: z.number(),
  progress: z.looseObject({ percent: z.number().optional(), records: z.number().optional() }).optional(),
  error: z.looseObject({ code: z.union([z.number(), z.string()]), message: z.string() }).optional(),
});
export type WorkflowView = z.infer<typeof WorkflowView>;

const SeriesView = z.looseObject({
  count: z.number(),
  first: z.number().nullable(),
  last: z.number().nullable(),
  covered: z.array(z.object({ from: z.number(), to: z.number() })),
  gaps: z.array(z.object({ from: z.number(), to: z.number() })),
});

const iso = (t: number | null): string => (t === null ? '-' : new Date(t).toISOString());

/** The start-up summary: modes, URLs, topology and a curl to try. */
export function banner(p: Platform, print: Print, storeLabel: string): void {
  const bus = p.mode === 'embedded' ? 'in-process bus (loaders publish to its ingress)' : 'Apache Kafka';
  print('');
  print(`StreamForge is running: ${bus}, ${storeLabel}`);
  print(
    `  queue-manager     ${p.url}   status page: ${p.url}/ui   REST API: /workflows, /series, /openapi.json`,
  );
  for (const [name, url] of Object.entries(p.services))
    if (name !== 'queue-manager') print(`  ${name.padEnd(17)} ${url}`);
  if (p.ingressUrl !== undefined) print(`  ingress           ${p.ingressUrl}/<topic>`);
  const sim = p.exchange.simulatorUrl;
  const tag = (url: string) => (url === sim ? ' (SIMULATED)' : '');
  print(
    `  exchange          spot ${p.exchange.api}${tag(p.exchange.api)}, futures ${p.exchange.fapi}${tag(p.exchange.fapi)}`,
  );
  print(`  archive           ${p.exchange.archive}${tag(p.exchange.archive)}`);
  if (sim !== undefined)
    print(
      '                    set BINANCE_API_URL, BINANCE_FAPI_URL and BINANCE_ARCHIVE_URL to use another exchange',
    );
  print('  topology (kafka-sources/, delivered by the local runner as KafkaSources would):');
  for (const { source } of p.topology.sources) {
    print(
      `    ${source.spec.topics.join(', ')} → ${source.spec.sink.ref?.name ?? source.spec.sink.uri ?? '?'}`,
    );
  }
  print('');
  print('Start a workflow:');
  print(`  curl -X POST ${p.url}/workflows -H 'content-type: application/json' \\`);
  print(`    -d '{"symbol":"ETHUSDT","type":"api_candles_5m","time_range":"2024-08-01:2024-08-08"}'`);
  print(`  curl ${p.url}/workflows/<queue_id>        # status, records_written, timeline`);
  print(`  curl ${p.url}/series                      # what is stored`);
  print('');
}

async function json<T extends z.ZodType>(res: Response, schema: T, what: string): Promise<z.infer<T>> {
  const text = await res.text();
  if (!res.ok) throw new Error(`${what}: HTTP ${res.status} ${text.slice(0, 300)}`);
  return schema.parse(JSON.parse(text));
}

/** Submits the demo workflow, prints its progress until it ends, then what is stored. */
export async function runDemo(
  url: string,
  print: Print,
  opts: { token?: string | undefined; signal?: AbortSignal; pollMs?: number; timeoutMs?: number } = {},
): Promise<WorkflowView> {
  const auth: Record<string, string> =
    opts.token === undefined ? {} : { authorization: `Bearer ${opts.token}` };
  print(
    `Demo: ${DEMO_REQUEST.type} ${DEMO_REQUEST.symbol} ${DEMO_REQUEST.time_range} (DEMO=false or --no-demo skips this)`,
  );
  const created = await json(
    await fetch(`${url}/workflows`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...auth },
      body: JSON.stringify(DEMO_REQUEST),
    }),
    WorkflowView,
    'POST /workflows',
  );
  print(`  ${created.queue_id}: ${created.status}`);
  const deadline = Date.now() + (opts.timeoutMs ?? 300_000);
  let last = '';
  let wf = created;
  while (!TERMINAL.has(wf.status)) {
    if (opts.signal?.aborted || Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, opts.pollMs ?? 250));
    wf = await json(
      await fetch(`${url}/workflows/${wf.queue_id}`, { headers: auth }),
      WorkflowView,
      'GET /workflows/{id}',
    );
    const pct = wf.progress?.percent === undefined ? '' : ` ${wf.progress.percent.toFixed(0)}% loaded,`;
    const line = `  ${wf.queue_id}: ${wf.status},${pct} ${wf.records_written} records stored`;
    if (line !== last) print(line);
    last = line;
  }
  if (wf.error) print(`  error ${wf.error.code}: ${wf.error.message}`);
  if (wf.status === 'completed') {
    const series = await json(
      await fetch(`${url}/series/spot/${DEMO_REQUEST.symbol}/klines_1m`, { headers: auth }),
      SeriesView,
      'GET /series',
    );
    print(
      `  GET /series/spot/${DEMO_REQUEST.symbol}/klines_1m: ${series.count} candles from ${iso(series.first)} to ${iso(series.last)}`,
    );
    print(
      `    covered ${series.covered.map((r) => `${iso(r.from)}..${iso(r.to)}`).join(', ') || '-'}; exchange gaps ${series.gaps.length}`,
    );
  } else if (!TERMINAL.has(wf.status)) {
    print(`  still ${wf.status}; follow it with curl ${url}/workflows/${wf.queue_id}`);
  }
  print('');
  return wf;
}
