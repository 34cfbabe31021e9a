/**
 * The `streamforge` command line (commander): submit, watch, list, get, cancel, retry against a
 * queue-manager; series, gaps and export over its stored data. `runCli` takes argv, env and the output streams, so it runs the same in a test.
 * Every failure ends as one message on stderr and an exit code from exit-codes.ts.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { Market, Symbol } from '../../shared/contracts/common.ts';
import { Dataset } from '../../shared/contracts/records.ts';
import { refusalOf } from '../../shared/contracts/request-rules.ts';
import { QueueId, WORKFLOW_STATUSES } from '../../shared/contracts/workflow.ts';
import { createClient, type ManagerClient } from './client.ts';
import { RefusedError, UsageError, describeError, renderFailure } from './errors.ts';
import { EXIT, exitCodeHelp } from './exit-codes.ts';
import { exportSeries } from './export.ts';
import { bytes, created, details, gapsTable, listTable, seriesTable, timeline } from './format.ts';
import { watch, type Io } from './watch.ts';

interface Globals {
  url: string;
  token?: string;
  json: boolean;
}

/**
 * Page bounds of GET /workflows (functions/queue-manager/schema.ts `ListQuery`), checked here so
 * that a wrong value is reported without a round trip.
 */
const LIST_LIMIT = { min: 1, max: 500 } as const;

/**
 * An argParser for a whole number in [min, max]; commander turns the InvalidArgumentError into
 * `error: option '--limit <n>' argument 'abc' is invalid. expected a positive integer` (exit 2).
 */
function integer(min: 0 | 1, max?: number): (v: string) => number {
  const kind = min === 0 ? 'a non-negative integer' : 'a positive integer';
  return (v) => {
    const n = /^\d+$/.test(v) ? Number(v) : Number.NaN;
    if (!Number.isSafeInteger(n)) throw new InvalidArgumentError(`expected ${kind}`);
    if (n < min || (max !== undefined && n > max))
      throw new InvalidArgumentError(
        max === undefined ? `expected ${kind}` : `expected an integer from ${min} to ${max}`,
      );
    return n;
  };
}

const URL_EXPECTED = 'expected an http(s) URL, e.g. http://127.0.0.1:8080';

function isHttpUrl(v: string): boolean {
  try {
    const u = new URL(v);
    return u.protocol === 'http:' || u.protocol === 'https:';
  } catch {
    return false;
  }
}

function httpUrl(v: string): string {
  if (!isHttpUrl(v)) throw new InvalidArgumentError(URL_EXPECTED);
  return v;
}

/** A queue id as the manager's routes check it (shared QueueId), so a typo needs no round trip. */
function queueId(v: string): string {
  const r = QueueId.safeParse(v);
  if (!r.success) throw new InvalidArgumentError(r.error.issues[0]?.message ?? 'not a queue id');
  return v;
}

/** A series' path parts as the API checks them (shared contracts), so a typo needs no round trip. */
function checked(
  schema: { safeParse: (v: string) => { success: boolean; error?: { issues: { message: string }[] } } },
  what: string,
) {
  return (v: string): string => {
    const r = schema.safeParse(v);
    if (!r.success) throw new InvalidArgumentError(r.error?.issues[0]?.message ?? `not a ${what}`);
    return v;
  };
}
const marketArg = checked(Market, 'market');
const symbolArg = checked(Symbol, 'symbol');
const datasetArg = (v: string): string => {
  if (!Dataset.safeParse(v).success)
    throw new InvalidArgumentError(
      'expected klines_<interval> (e.g. klines_1m), trades, agg_trades, funding, depth or book_ticker',
    );
  return v;
};

/** The same for a variadic argument: commander folds the values through it. */
const queueIds = (v: string, previous: string[] | undefined): string[] => [...(previous ?? []), queueId(v)];

/** Builds the program; each action stores its exit code in `result.code`. */
function buildProgram(env: Record<string, string | undefined>, io: Io, result: { code: number }): Command {
  const program = new Command('streamforge')
    .description(
      'Start, watch, cancel and retry StreamForge workflows; list, check and export stored series.',
    )
    .option(
      '--url <url>',
      'queue-manager base URL (env STREAMFORGE_URL)',
      httpUrl,
      // An empty variable counts as unset, as in most shells' `VAR= cmd`.
      env['STREAMFORGE_URL'] || 'http://127.0.0.1:8080',
    )
    .option('--token <token>', "bearer token, the manager's API_TOKEN (env STREAMFORGE_TOKEN)")
    .option('--json', 'print JSON for scripts instead of text', false)
    .addHelpText('after', exitCodeHelp())
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) });

  const ctx = (cmd: Command): { g: Globals; client: ManagerClient } => {
    const g = cmd.optsWithGlobals<Globals>();
    // --url went through its argParser; a default from the environment did not.
    if (!isHttpUrl(g.url)) throw new UsageError(`STREAMFORGE_URL '${g.url}' is invalid. ${URL_EXPECTED}`);
    // The token's env fallback is applied here so that `--help` never prints it.
    return { g, client: createClient({ url: g.url, token: g.token || env['STREAMFORGE_TOKEN'] }) };
  };
  const print = (g: Globals, json: unknown, text: string) =>
    io.stdout.write(`${g.json ? JSON.stringify(json, null, 2) : text}\n`);

  program
    .command('submit')
    .description(
      'create a workflow (one per symbol); ranges are half-open UTC days, e.g. 2024-08-01:2024-08-02',
    )
    .option('--symbol <symbol>', 'symbol, e.g. BTCUSDT')
    .option(
      '--symbols <list>',
      'comma-separated symbols (one workflow each; graph_build: one graph over all)',
    )
    .requiredOption('--type <type>', 'workflow type, e.g. api_candles_5m')
    .option(
      '--graph <json>',
      'graph_build parameters as JSON, e.g. \'{"interval":"1h","window":"30d","step":"1d"}\'',
    )
    .option('--gnn <json>', 'gnn_train parameters as JSON, e.g. \'{"graph_id":"wf-…","architecture":"gat"}\'')
    .option('--range <from:to>', 'UTC days, end excluded: 2024-08-01:2024-08-02 is one day')
    .option('--start <iso>', 'ISO-8601 start (instead of --range)')
    .option('--end <iso>', 'ISO-8601 end, excluded')
    .addOption(new Option('--market <market>', 'market').choices(['spot', 'usdm']))
    .option('--kafka-topic <name>', 'data topic (default per kind)')
    .option('--collection <name>', 'store collection (default canonical per kind)')
    .option('--watch', 'watch until the workflows end (exit code as `watch`)', false)
    .option('--interval <ms>', 'watch poll interval', integer(1), 1000)
    .action(async (o: Record<string, string | boolean | number | undefined>, cmd: Command) => {
      const { g, client } = ctx(cmd);
      const body: Record<string, unknown> = { type: o['type'] };
      if (o['symbol'] !== undefined) body['symbol'] = o['symbol'];
      if (typeof o['symbols'] === 'string') body['symbols'] = o['symbols'].split(',').map((s) => s.trim());
      if (o['range'] !== undefined) body['time_range'] = o['range'];
      for (const opt of ['graph', 'gnn'] as const) {
        const text = o[opt];
        if (typeof text !== 'string') continue;
        try {
          body[opt] = JSON.parse(text) as unknown;
        } catch {
          throw new UsageError(`--${opt} must be a JSON object: ${text}`);
        }
      }
      for (const [opt, field] of [
        ['start', 'start'],
        ['end', 'end'],
        ['market', 'market'],
        ['kafkaTopic', 'kafka_topic'],
        ['collection', 'collection_name'],
      ] as const) {
        if (o[opt] !== undefined) body[field] = o[opt];
      }
      // The API's request rules, checked here first: a request that cannot succeed is not sent.
      const refusal = refusalOf(body, Date.now());
      if (refusal) throw new RefusedError(refusal.status, refusal.message, refusal.issues);
      const wfs = await client.submit(body);
      if (!o['watch']) {
        print(
          g,
          body['symbol'] !== undefined && wfs.length === 1 ? wfs[0] : { workflows: wfs },
          wfs.map(created).join('\n'),
        );
        return;
      }
      if (!g.json) io.stdout.write(`${wfs.map(created).join('\n')}\n`);
      const ids = wfs.map((w) => w.queue_id);
      result.code = await watch(client, ids, { intervalMs: Number(o['interval']), json: g.json, io });
    });

  program
    .command('graphs')
    .description('list the graphs built by graph_build workflows')
    .action(async (_o: unknown, cmd: Command) => {
      const { g, client } = ctx(cmd);
      const page = await client.graphs();
      const lines = page.items.map(
        (x) =>
          `${x.graph_id}  ${x.symbols.length} symbols ${x.interval}  ${x.snapshots} snapshots  ${x.edges} edges  ` +
          `${new Date(x.start).toISOString().slice(0, 10)}..${new Date(x.end).toISOString().slice(0, 10)}`,
      );
      print(g, page, lines.length > 0 ? lines.join('\n') : 'no graphs yet');
    });

  program
    .command('models')
    .description('list trained models with their test accuracy against the no-graph MLP')
    .action(async (_o: unknown, cmd: Command) => {
      const { g, client } = ctx(cmd);
      const page = await client.models();
      const pct = (v: number) => `${(100 * v).toFixed(1)}%`;
      const lines = page.items.map((m) => {
        const mlp = m.baselines['mlp'];
        return `${m.model_id}  ${m.architecture} on ${m.graph_id}  accuracy ${pct(m.metrics.accuracy)}${mlp ? ` (mlp ${pct(mlp.accuracy)})` : ''}`;
      });
      print(g, page, lines.length > 0 ? lines.join('\n') : 'no models yet');
    });

  program
    .command('predict')
    .description("score a model on the latest stored data: each asset's P(next return > 0)")
    .argument('<model_id>', 'model id (GET /models)')
    .action(async (modelId: string, _o: unknown, cmd: Command) => {
      const { g, client } = ctx(cmd);
      const p = await client.predict(modelId);
      const lines = [
        `${p.model_id} at ${new Date(p.time).toISOString()} (graph snapshot ${new Date(p.snapshot_t).toISOString()}, ${p.backend})`,
        ...p.predictions.map(
          (x) => `${x.symbol.padEnd(12)} ${x.direction.padEnd(4)} p_up ${x.p_up.toFixed(3)}`,
        ),
      ];
      print(g, p, lines.join('\n'));
    });

  program
    .command('watch')
    .description('follow workflows until they end; exit 0 when all completed, 9 when one failed')
    .argument('<queue_id...>', 'workflow ids', queueIds)
    .option('--interval <ms>', 'poll interval', integer(1), 1000)
    .action(async (ids: string[], o: { interval: number }, cmd: Command) => {
      const { g, client } = ctx(cmd);
      result.code = await watch(client, ids, { intervalMs: o.interval, json: g.json, io });
    });

  program
    .command('list')
    .description('list workflows, newest first')
    .addOption(new Option('--status <status>').choices(WORKFLOW_STATUSES))
    .option('--symbol <symbol>')
    .option('--type <type>')
    .option(
      '--limit <n>',
      `page size, ${LIST_LIMIT.min} to ${LIST_LIMIT.max}`,
      integer(1, LIST_LIMIT.max),
      50,
    )
    .option('--offset <n>', 'skip this many', integer(0), 0)
    .action(
      async (
        o: { status?: string; symbol?: string; type?: string; limit: number; offset: number },
        cmd: Command,
      ) => {
        const { g, client } = ctx(cmd);
        const page = await client.list(o);
        print(g, page, listTable(page.items, page.total));
      },
    );

  program
    .command('get')
    .description('show one workflow with its timeline')
    .argument('<queue_id>', 'workflow id', queueId)
    .action(async (id: string, _o: unknown, cmd: Command) => {
      const { g, client } = ctx(cmd);
      const wf = await client.get(id);
      print(g, wf, details(wf));
    });

  program
    .command('series')
    .description('list the stored series: records, first and last time')
    .action(async (_o: unknown, cmd: Command) => {
      const { g, client } = ctx(cmd);
      const page = await client.series();
      print(g, page, seriesTable(page.items));
    });

  program
    .command('gaps')
    .description("one series' timeline: what is stored, where the exchange has no data, what is missing")
    .argument('<market>', 'spot or usdm', marketArg)
    .argument('<symbol>', 'e.g. BTCUSDT', symbolArg)
    .argument('<dataset>', 'e.g. klines_1m, trades, agg_trades, funding, depth, book_ticker', datasetArg)
    .action(async (market: string, symbol: string, dataset: string, _o: unknown, cmd: Command) => {
      const { g, client } = ctx(cmd);
      const detail = await client.seriesDetail({ market, symbol, dataset });
      const spans = timeline(detail.covered, detail.gaps);
      const missing = spans.filter((x) => x.state === 'missing').map(({ from, to }) => ({ from, to }));
      print(g, { ...detail, missing }, gapsTable(detail, spans));
    });

  program
    .command('export')
    .description('stream a series (or a range of it) to a CSV or Parquet file, with a progress bar')
    .argument('<market>', 'spot or usdm', marketArg)
    .argument('<symbol>', 'e.g. BTCUSDT', symbolArg)
    .argument('<dataset>', 'e.g. klines_1m, trades, agg_trades, funding, depth, book_ticker', datasetArg)
    .addOption(
      new Option('--format <format>', 'file format').choices(['csv', 'parquet']).makeOptionMandatory(),
    )
    .option('--from <time>', 'inclusive start: epoch ms or ISO-8601 (e.g. 2024-08-01)')
    .option('--to <time>', 'exclusive end: epoch ms or ISO-8601')
    .option(
      '--out <file>',
      "file to write, or a directory for the server's file name (default: the current directory); - for stdout",
    )
    .action(
      async (
        market: string,
        symbol: string,
        dataset: string,
        o: { format: 'csv' | 'parquet'; from?: string; to?: string; out?: string },
        cmd: Command,
      ) => {
        const { g, client } = ctx(cmd);
        const r = await exportSeries(
          client,
          { market, symbol, dataset },
          { format: o.format, from: o.from, to: o.to, out: o.out, json: g.json, io },
        );
        if (r.file === '-') return;
        print(
          g,
          r,
          `wrote ${r.file}: ${r.rows === undefined ? '' : `${r.rows.toLocaleString('en-US')} rows, `}${bytes(r.bytes)}`,
        );
      },
    );

  for (const verb of ['cancel', 'retry'] as const) {
    program
      .command(verb)
      .description(verb === 'cancel' ? 'cancel a running workflow' : 'retry a workflow in error or cancelled')
      .argument('<queue_id>', 'workflow id', queueId)
      .action(async (id: string, _o: unknown, cmd: Command) => {
        const { g, client } = ctx(cmd);
        const wf = await client[verb](id);
        print(
          g,
          wf,
          `${verb === 'cancel' ? 'cancelled' : 'retrying'} ${wf.queue_id}  ${wf.status}  attempt ${wf.attempt}`,
        );
      });
  }
  for (const sub of program.commands)
    sub.addHelpText('after', '\nExit codes: see `streamforge --help` or docs/cli.md.');
  return program;
}

/** Runs one command line; resolves to the process exit code (exit-codes.ts), never rejects. */
export async function runCli(
  argv: string[],
  env: Record<string, string | undefined>,
  io: Io,
): Promise<number> {
  const result = { code: EXIT.ok as number };
  try {
    const program = buildProgram(env, io, result);
    await program.parseAsync(argv, { from: 'user' });
    return result.code;
  } catch (err) {
    const failure = describeError(err);
    io.stderr.write(renderFailure(failure));
    return failure.code;
  }
}
