/**
 * The whole platform in one process (DESIGN.md "Shape", the two local modes), composed from the
 * functions' factories. This composition root is the one place that imports several functions;
 * they never import each other.
 *
 * - the bus: in-process (embedded) or Kafka (`KAFKA_BROKERS`); the store: SQLite or ArangoDB;
 * - queue-manager on `PORT` (the user-facing API), arango-connector and dummy-service on free
 *   loopback ports, the simulated exchange on its own loopback port unless exchange URLs are set;
 * - the local runner, wired by `kafka-sources/*.yaml` exactly as the cluster's KafkaSources: it
 *   is every function's one intake; it hands events to the functions in this process directly
 *   (RUNNER_DELIVERY=direct, the default) or POSTs them (http), with the same retries and dead
 *   letters either way;
 * - loaders as child processes that only publish: in embedded mode by POSTing CloudEvents to this
 *   process's ingress (STREAMFORGE_INGRESS_URL, shaped like a KafkaSink), with Kafka to Kafka.
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { artifactJobEnv, createArtifactStore } from '../../shared/artifacts/config.ts';
import type { EventBus } from '../../shared/bus/event-bus.ts';
import { createBus } from '../../shared/bus/create-bus.ts';
import { createIngress } from '../../shared/bus/ingress.ts';
import { canonicalCollection } from '../../shared/contracts/events.ts';
import { RECORD_KINDS } from '../../shared/contracts/records.ts';
import { createChildProcessLauncher, REPO_ROOT } from '../../shared/jobs/child-process-launcher.ts';
import type { FunctionApp } from '../../shared/runtime/app.ts';
import type { Logger } from '../../shared/runtime/logger.ts';
import { serve, type Served } from '../../shared/runtime/serve.ts';
import { createIntakeVerifier } from '../../shared/runtime/intake-auth.ts';
import { createStore } from '../../shared/store/create-store.ts';
import type { Store } from '../../shared/store/store.ts';
import { loadTopology, type Topology } from '../../shared/topology/load.ts';
import { createConnector } from '../arango-connector/app.ts';
import { createDummyApp } from '../dummy-service/app.ts';
import { createExchange, type ExchangeOptions } from '../dummy-service/exchange/exchange.ts';
import { createWsExchange } from '../dummy-service/exchange/ws/server.ts';
import { createLoaderWs } from '../loader-ws/app.ts';
import { createGraphBuilderApp } from '../graph-builder/app.ts';
import { GraphBuilderConfig, settingsOf as graphSettingsOf } from '../graph-builder/schema.ts';
import { settingsOf as liveSettingsOf, LoaderWsConfig } from '../loader-ws/schema.ts';
import { createExchangeClient } from '../../shared/exchange/rest-client.ts';
import { budgetFor } from '../../shared/exchange/weight-budget.ts';
import { DEFAULT_LOAD_BUDGET, EMBEDDED_LOAD_BUDGET } from '../dummy-service/schema.ts';
import { createLocalRunner, type LocalRunner } from '../local-runner/runner.ts';
import { createManager } from '../queue-manager/app.ts';
import { settingsFromConfig } from '../queue-manager/config.ts';
import { createPredictor } from '../queue-manager/predict.ts';
import type { PlatformConfig } from './config.ts';

export interface PlatformOptions {
  cfg: PlatformConfig;
  logger: Logger;
  /** Host of the manager's server; default loopback (main.ts reads HOST). The others stay on loopback. */
  host?: string;
  /** Options of the simulated exchange, when it runs (default: its presets); tests set symbols and rates. */
  simulator?: Omit<ExchangeOptions, 'logger'>;
}

export interface Platform {
  mode: 'embedded' | 'kafka';
  /** The manager's base URL (the user-facing API). */
  url: string;
  /** Base URL of every function server, by Knative Service name. */
  services: Record<string, string>;
  /** Exchange base URLs the loaders use; `simulatorUrl` when the simulated exchange runs here. */
  exchange: {
    api: string;
    fapi: string;
    archive: string;
    ws: string;
    fws: string;
    simulatorUrl: string | undefined;
  };
  /** The ingress children publish to (embedded mode), without its token. */
  ingressUrl: string | undefined;
  topology: Topology;
  store: Store;
  bus: EventBus;
  runner: LocalRunner;
  /** Stops the runner, the jobs, the servers, then the bus and the store. Idempotent. */
  close(): Promise<void>;
}

const LOOPBACK = '127.0.0.1';

export async function startPlatform(opts: PlatformOptions): Promise<Platform> {
  const { cfg, logger } = opts;
  const embedded = cfg.KAFKA_BROKERS.length === 0;
  const log = (fn: string) => logger.child({ fn });
  const closers: (() => Promise<void>)[] = [];
  const close = async (): Promise<void> => {
    for (const c of closers.splice(0).reverse()) {
      try {
        await c();
      } catch (err) {
        logger.warn({ err }, 'platform: a component failed to close');
      }
    }
  };
  const served: Served[] = [];
  const serveFn = async (
    name: string,
    app: { fetch: (r: Request) => Response | Promise<Response> },
    port = 0,
    host = LOOPBACK,
  ) => {
    const s = await serve(app, {
      port,
      host,
      logger: log(name),
      graceMs: cfg.SHUTDOWN_GRACE_MS,
      handleSignals: false,
    });
    served.push(s);
    return s;
  };

  try {
    const sqlitePath = path.resolve(REPO_ROOT, cfg.SQLITE_PATH);
    const store = createStore({ ...cfg, SQLITE_PATH: sqlitePath }, log('store'));
    closers.push(() => store.close());
    // The parent owns the bus (children get the Publisher, create-bus.ts).
    const bus = createBus(
      { KAFKA_BROKERS: cfg.KAFKA_BROKERS, KAFKA_CLIENT_ID: cfg.KAFKA_CLIENT_ID },
      log('bus'),
    );
    closers.push(() => bus.close());

    // The canonical datasets, typed: a file of an earlier layout is migrated now, or refused here
    // with its path named, not on the first batch.
    for (const kind of RECORD_KINDS) await store.ensureCollection(canonicalCollection(kind), 'series', kind);

    const topology = await loadTopology(path.resolve(REPO_ROOT, cfg.TOPOLOGY_DIR));
    await bus.ensureTopics(topology.topics);

    // The simulated exchange (REST, archive and WebSocket streams), unless the user named every URL.
    let exchange: Platform['exchange'] = {
      api: cfg.BINANCE_API_URL ?? '',
      fapi: cfg.BINANCE_FAPI_URL ?? '',
      archive: cfg.BINANCE_ARCHIVE_URL ?? '',
      ws: cfg.BINANCE_WS_URL ?? '',
      fws: cfg.BINANCE_FWS_URL ?? '',
      simulatorUrl: undefined,
    };
    if (
      cfg.BINANCE_API_URL === undefined ||
      cfg.BINANCE_FAPI_URL === undefined ||
      cfg.BINANCE_ARCHIVE_URL === undefined ||
      cfg.BINANCE_WS_URL === undefined ||
      cfg.BINANCE_FWS_URL === undefined
    ) {
      const simulated = createExchange({ ...opts.simulator, logger: log('exchange') });
      const sim = await serveFn('exchange', simulated.app);
      const simWs = createWsExchange(simulated, simulated.config.ws, log('exchange'));
      simWs.attach(sim.server);
      closers.push(() => simWs.close());
      const wsBase = sim.url.replace(/^http/, 'ws');
      exchange = {
        api: cfg.BINANCE_API_URL ?? sim.url,
        fapi: cfg.BINANCE_FAPI_URL ?? sim.url,
        archive: cfg.BINANCE_ARCHIVE_URL ?? sim.url,
        ws: cfg.BINANCE_WS_URL ?? wsBase,
        fws: cfg.BINANCE_FWS_URL ?? `${wsBase}/usdm`,
        simulatorUrl: sim.url,
      };
    }

    // Every function's intake takes events only with this platform's secret: the runner sends it,
    // as a KafkaSource sends its OIDC token in a cluster (intake-auth.ts).
    const intakeSecret = randomBytes(24).toString('base64url');
    const intakeAuth = createIntakeVerifier({ secrets: [intakeSecret] });

    // Embedded: children publish to this ingress, on loopback, with a token.
    let ingressUrl: string | undefined;
    let childIngressUrl: string | undefined;
    if (embedded) {
      const token = randomBytes(18).toString('base64url');
      const ingress = createIngress({ bus, logger: log('ingress'), token });
      const s = await serveFn('ingress', ingress.app);
      ingressUrl = `${s.url}/${cfg.KN_NAMESPACE}`;
      childIngressUrl = `http://bus:${token}@${LOOPBACK}:${s.port}/${cfg.KN_NAMESPACE}`;
    }

    const connector = createConnector({ store, bus, logger: log('arango-connector'), intakeAuth });
    await connector.start();
    closers.push(() => connector.stop());
    const connectorServer = await serveFn('arango-connector', connector.app);

    // loader-ws runs in this process (it holds sockets, not a Job): its defaults, this platform's URLs.
    const liveCfg = LoaderWsConfig.parse({ LOG_LEVEL: cfg.LOG_LEVEL });
    const liveClient = (market: 'spot' | 'usdm') => {
      const baseUrl = market === 'spot' ? exchange.api : exchange.fapi;
      return createExchangeClient({
        baseUrl,
        budget: budgetFor(`${market} ${baseUrl}`, {
          limit: liveCfg.BINANCE_WEIGHT_LIMIT,
          windowMs: liveCfg.BINANCE_WEIGHT_WINDOW_MS,
          margin: 0.05,
          maxInflightRequests: 4,
        }),
        logger: log('loader-ws').child({ component: 'exchange', market }),
        timeoutMs: liveCfg.BINANCE_TIMEOUT_MS,
      });
    };
    const live = createLoaderWs({
      bus,
      store,
      logger: log('loader-ws'),
      settings: liveSettingsOf(liveCfg),
      clients: { spot: liveClient('spot'), usdm: liveClient('usdm') },
      wsUrls: { spot: exchange.ws, usdm: exchange.fws },
      intakeAuth,
    });
    await live.start();
    closers.push(() => live.stop());
    const liveServer = await serveFn('loader-ws', live.app);

    // graph-builder runs in this process too (a Knative Service in a cluster, fed by its KafkaSource).
    const graphs = createGraphBuilderApp({
      bus,
      store,
      logger: log('graph-builder'),
      settings: graphSettingsOf(GraphBuilderConfig.parse({ LOG_LEVEL: cfg.LOG_LEVEL })),
      intakeAuth,
    });
    closers.push(() => graphs.builder.stop());
    const graphServer = await serveFn('graph-builder', graphs.app);

    const dummy = createDummyApp({
      bus,
      logger: log('dummy-service'),
      loadBudget: embedded ? EMBEDDED_LOAD_BUDGET : DEFAULT_LOAD_BUDGET,
      intakeAuth,
    });
    const dummyServer = await serveFn('dummy-service', dummy.app);

    // Jobs get the platform's view of the world, whatever this process's environment says.
    const artifactDir = path.join(path.dirname(sqlitePath), 'models');
    const artifacts = createArtifactStore({ ...cfg, ARTIFACT_DIR: artifactDir });
    closers.push(() => Promise.resolve(artifacts.close()));
    const jobEnv: Record<string, string> = {
      BINANCE_API_URL: exchange.api,
      BINANCE_FAPI_URL: exchange.fapi,
      BINANCE_ARCHIVE_URL: exchange.archive,
      SQLITE_PATH: sqlitePath,
      // gnn-trainer writes model artifacts beside the store, where the manager reads them (predict),
      // or to ARTIFACT_STORE (s3://…) with this process's S3 settings (docs/artifacts.md).
      ARTIFACT_DIR: artifactDir,
      ...artifactJobEnv(cfg, { secrets: true }),
      LOG_LEVEL: cfg.LOG_LEVEL,
      KAFKA_BROKERS: cfg.KAFKA_BROKERS.join(','),
      ...(childIngressUrl === undefined ? {} : { STREAMFORGE_INGRESS_URL: childIngressUrl }),
    };
    const launcher = createChildProcessLauncher({
      logger: log('jobs'),
      killGraceMs: cfg.SHUTDOWN_GRACE_MS,
      // Loaders start in half the time from a bundle (child-process-launcher.ts has the figures).
      bundleDir: path.join(REPO_ROOT, '.cache', 'jobs'),
    });
    const manager = createManager({
      store,
      bus,
      launcher,
      intakeAuth,
      // The manager's port answers before the runner below has joined its groups: not ready, and
      // no verdicts, until then.
      feedLater: true,
      logger: log('queue-manager'),
      predictor: createPredictor({ store, logger: log('queue-manager'), artifacts }),
      settings: {
        ...settingsFromConfig(
          { ...cfg, BINANCE_API_URL: exchange.api, BINANCE_FAPI_URL: exchange.fapi },
          jobEnv,
        ),
      },
    });
    await manager.start();
    closers.push(() => manager.stop());
    // Children first (they may still publish their `cancelled` through the ingress), then the servers.
    closers.push(async () => {
      await Promise.all(served.map((s) => s.close()));
    });
    closers.push(() => launcher.close());
    const managerServer = await serveFn('queue-manager', manager.app, cfg.PORT, opts.host ?? LOOPBACK);

    const services: Record<string, string> = {
      'queue-manager': managerServer.url,
      'arango-connector': connectorServer.url,
      'loader-ws': liveServer.url,
      'graph-builder': graphServer.url,
      'dummy-service': dummyServer.url,
    };
    const inProcess: Record<string, FunctionApp['deliver']> = {
      'queue-manager': manager.functionApp.deliver,
      'arango-connector': connector.functionApp.deliver,
      'loader-ws': live.functionApp.deliver,
      'graph-builder': graphs.functionApp.deliver,
      'dummy-service': dummy.deliver,
    };
    const runner = createLocalRunner({
      bus,
      sources: topology.sources.map((s) => s.source),
      resolveService: (name) => services[name],
      ...(cfg.RUNNER_DELIVERY === 'direct' ? { direct: (name: string) => inProcess[name] } : {}),
      // Dead letters go to the declared sink, dummy-service, as in a cluster: it keeps them on the
      // dead-letter topic and fails the workflow of a batch that could not be delivered.
      namespace: cfg.KN_NAMESPACE,
      authorization: `Bearer ${intakeSecret}`,
      logger: log('local-runner'),
    });
    await runner.start();
    // Until now no queue-event could reach the manager (after a crash, joining the groups waits
    // for the dead members' sessions to end): silence counts, and lost jobs are judged, from here.
    manager.service.feedConnected(Date.now());
    closers.push(() => runner.stop());

    return {
      mode: embedded ? 'embedded' : 'kafka',
      url: managerServer.url,
      services,
      exchange,
      ingressUrl,
      topology,
      store,
      bus,
      runner,
      close: (() => {
        let closing: Promise<void> | undefined;
        return () => (closing ??= close());
      })(),
    };
  } catch (err) {
    await close();
    throw err;
  }
}
