/**
 * `npm start`: the platform on one machine (DESIGN.md "Shape"). The only file here that reads the
 * environment. Embedded by default (in-process bus, SQLite at SQLITE_PATH, the simulated
 * exchange); with KAFKA_BROKERS the same topology runs over Kafka. Then, unless DEMO=false or
 * `--no-demo`, one short workflow runs end to end while you watch; the platform keeps serving.
 */
import { ConfigError, loadConfig } from '../../shared/runtime/config.ts';
import { createLogger } from '../../shared/runtime/logger.ts';
import { TopologyError } from '../../shared/topology/load.ts';
import { apiExposureProblem } from '../queue-manager/config.ts';
import { PlatformConfig } from './config.ts';
import { banner, runDemo } from './demo.ts';
import { startPlatform } from './platform.ts';

const print = (line: string): void => void process.stdout.write(`${line}\n`);

function config(): PlatformConfig {
  try {
    const cfg = loadConfig(PlatformConfig, process.env);
    const exposure = apiExposureProblem(cfg.HOST, cfg);
    if (exposure) throw new ConfigError([exposure]);
    return cfg;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    createLogger('platform').fatal({ problems: err.problems }, err.message);
    process.exit(2);
  }
}

const cfg = config();
const argv = process.argv.slice(2);
const demo = argv.includes('--demo') || (cfg.DEMO && !argv.includes('--no-demo'));
const logger = createLogger('platform', cfg.LOG_LEVEL);

const platform = await startPlatform({ cfg, logger, host: cfg.HOST }).catch((err: unknown) => {
  if (err instanceof TopologyError) logger.fatal({ problems: err.problems }, err.message);
  else {
    logger.fatal({ err }, 'the platform failed to start');
    // Said plainly too: e.g. a SQLite file of an unknown layout, named with what to do about it.
    print(`The platform failed to start: ${err instanceof Error ? err.message : String(err)}`);
  }
  process.exit(1);
});
banner(
  platform,
  print,
  (cfg.ARANGO_URL ?? platform.store === undefined) ? '' : (cfg.ARANGO_URL ?? cfg.SQLITE_PATH),
);

const stopping = new AbortController();
let signals = 0;
for (const sig of ['SIGTERM', 'SIGINT'] as const) {
  process.on(sig, () => {
    if (++signals > 1) process.exit(1); // a second Ctrl-C does not wait
    stopping.abort();
    print(`${sig}: stopping (runner, jobs, servers, bus, store)…`);
    platform.close().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  });
}

if (demo) {
  runDemo(platform.url, print, { token: cfg.API_TOKEN, signal: stopping.signal }).then(
    () => print(`The platform keeps serving on ${platform.url} (Ctrl-C stops it).`),
    (err: unknown) => {
      if (!stopping.signal.aborted) print(`Demo failed: ${err instanceof Error ? err.message : String(err)}`);
    },
  );
}
