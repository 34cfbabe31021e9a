/**
 * The `streamforge` command line (commander): submit, watch, list, get, cancel, retry against a
 * queue-manager. `runCli` takes argv, env and the output streams, so it runs the same in a test.
 */
import { Command, CommanderError, Option } from 'commander';
import { WORKFLOW_STATUSES } from '../../shared/contracts/workflow.ts';
import { ApiError, UnreachableError, createClient, type ManagerClient } from './client.ts';
import { created, details, listTable } from './format.ts';
import { EXIT, watch, type Io } from './watch.ts';

interface Globals {
  url: string;
  token?: string;
  json: boolean;
}

const int = (v: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0)
    throw new CommanderError(EXIT.trouble, 'streamforge.badNumber', `not a number: ${v}`);
  return n;
};

/** Builds the program; each action stores its exit code in `result.code`. */
function buildProgram(env: Record<string, string | undefined>, io: Io, result: { code: number }): Command {
  const program = new Command('streamforge')
    .description('Start, watch, cancel and retry StreamForge workflows.')
    .option(
      '--url <url>',
      'queue-manager base URL (env STREAMFORGE_URL)',
      env['STREAMFORGE_URL'] ?? 'http://127.0.0.1:8080',
    )
    .option('--token <token>', "bearer token, the manager's API_TOKEN (env STREAMFORGE_TOKEN)")
    .option('--json', 'print JSON for scripts instead of text', false)
    .addHelpText(
      'after',
      '\nExit codes: 0 ok (watch: completed), 1 workflow ended in error or cancelled, 2 request failed.',
    )
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) });

  const ctx = (cmd: Command): { g: Globals; client: ManagerClient } => {
    const g = cmd.optsWithGlobals<Globals>();
    // The token's env fallback is applied here so that `--help` never prints it.
    return { g, client: createClient({ url: g.url, token: g.token ?? env['STREAMFORGE_TOKEN'] }) };
  };
  const print = (g: Globals, json: unknown, text: string) =>
    io.stdout.write(`${g.json ? JSON.stringify(json, null, 2) : text}\n`);

  program
    .command('submit')
    .description(
      'create a workflow (one per symbol); ranges are half-open UTC days, e.g. 2024-08-01:2024-08-02',
    )
    .option('--symbol <symbol>', 'symbol, e.g. BTCUSDT')
    .option('--symbols <list>', 'comma-separated symbols (one workflow each)')
    .requiredOption('--type <type>', 'workflow type, e.g. api_candles_5m')
    .option('--range <from:to>', 'UTC days, end excluded: 2024-08-01:2024-08-02 is one day')
    .option('--start <iso>', 'ISO-8601 start (instead of --range)')
    .option('--end <iso>', 'ISO-8601 end, excluded')
    .addOption(new Option('--market <market>', 'market').choices(['spot', 'usdm']))
    .option('--kafka-topic <name>', 'data topic (default per kind)')
    .option('--collection <name>', 'store collection (default canonical per kind)')
    .option('--watch', 'watch until the workflows end (exit code as `watch`)', false)
    .option('--interval <ms>', 'watch poll interval', int, 1000)
    .action(async (o: Record<string, string | boolean | number | undefined>, cmd: Command) => {
      const { g, client } = ctx(cmd);
      const body: Record<string, unknown> = { type: o['type'] };
      if (o['symbol'] !== undefined) body['symbol'] = o['symbol'];
      if (typeof o['symbols'] === 'string') body['symbols'] = o['symbols'].split(',').map((s) => s.trim());
      if (o['range'] !== undefined) body['time_range'] = o['range'];
      for (const [opt, field] of [
        ['start', 'start'],
        ['end', 'end'],
        ['market', 'market'],
        ['kafkaTopic', 'kafka_topic'],
        ['collection', 'collection_name'],
      ] as const) {
        if (o[opt] !== undefined) body[field] = o[opt];
      }
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
    .command('watch')
    .description('follow workflows until they end; exit 0 only when all completed')
    .argument('<queue_id...>')
    .option('--interval <ms>', 'poll interval', int, 1000)
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
    .option('--limit <n>', 'page size', int, 50)
    .option('--offset <n>', 'skip this many', int, 0)
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
    .argument('<queue_id>')
    .action(async (id: string, _o: unknown, cmd: Command) => {
      const { g, client } = ctx(cmd);
      const wf = await client.get(id);
      print(g, wf, details(wf));
    });

  for (const verb of ['cancel', 'retry'] as const) {
    program
      .command(verb)
      .description(verb === 'cancel' ? 'cancel a running workflow' : 'retry a workflow in error or cancelled')
      .argument('<queue_id>')
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
  return program;
}

/** Runs one command line; resolves to the process exit code. */
export async function runCli(
  argv: string[],
  env: Record<string, string | undefined>,
  io: Io,
): Promise<number> {
  const result = { code: EXIT.ok as number };
  const program = buildProgram(env, io, result);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return result.code;
  } catch (err) {
    if (err instanceof CommanderError) {
      return err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.exitCode === 0
        ? EXIT.ok
        : EXIT.trouble;
    }
    if (err instanceof ApiError) {
      io.stderr.write(`error: ${err.message} (HTTP ${err.status})\n`);
      for (const i of err.issues ?? []) io.stderr.write(`  ${formatIssue(i)}\n`);
      return EXIT.trouble;
    }
    if (err instanceof UnreachableError) {
      io.stderr.write(`error: ${err.message}\n`);
      return EXIT.trouble;
    }
    throw err;
  }
}

function formatIssue(issue: unknown): string {
  if (typeof issue === 'object' && issue !== null && 'message' in issue) {
    const path = 'path' in issue && Array.isArray(issue.path) ? issue.path.join('.') : '';
    return `${path ? `${path}: ` : ''}${String(issue.message)}`;
  }
  return JSON.stringify(issue);
}
