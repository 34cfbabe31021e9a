/**
 * Renders Jobs the way the queue-manager does in the cluster: its configuration comes from the
 * queue-manager Service's environment (ConfigMap, Secret, env), the template from the bundle
 * (so a test can break it in memory), and renderJob from shared/jobs/render-job.ts.
 */
import { QueueCommand, type Target } from '../../shared/contracts/workflow.ts';
import { parseJobTemplate, renderJob, type JobManifest } from '../../shared/jobs/render-job.ts';
import { loadConfig } from '../../shared/runtime/config.ts';
import { ManagerConfig, settingsFromConfig } from '../../functions/queue-manager/config.ts';
import { containerEnv, serviceContainer } from './env-refs.ts';
import { type Bundle, knativeServices, nameOf } from './load.ts';

/** A start command as the manager sends it (parsed by the shared contract, so it stays valid). */
export function sampleCommand(target: Target, image: string): QueueCommand {
  const gnn = target === 'gnn-trainer';
  return QueueCommand.parse({
    command: 'start',
    queue_id: gnn ? 'wf-btcusdt-gnn_train-20240801-a1b2c3' : 'wf-btcusdt-api_candles_5m-20240801-a1b2c3',
    target,
    symbol: 'BTCUSDT',
    type: gnn ? 'gnn_train' : 'api_candles_5m',
    market: 'spot',
    time_range: '2024-08-01:2024-08-02',
    start: Date.parse('2024-08-01T00:00:00Z'),
    end: Date.parse('2024-08-02T00:00:00Z'),
    kafka_topic: gnn ? 'streamforge-gnn-trainer' : 'binance-kline',
    collection_name: gnn ? 'gnn_trainer' : 'market_klines',
    telemetry_id: '5b7c1f4e-0000-4000-8000-000000000000',
    image,
    attempt: 2,
    timestamp: '2024-08-02T10:00:00.000Z',
  });
}

/** The manager's parsed configuration in the cluster (throws ConfigError when it does not parse). */
export function managerConfig(b: Bundle): ManagerConfig {
  const svc = knativeServices(b).find((d) => nameOf(d) === 'queue-manager');
  if (!svc) throw new Error('no queue-manager Service in knative/');
  return loadConfig(ManagerConfig, containerEnv(b, serviceContainer(svc), { knative: true }).env);
}

/**
 * The Job the manager creates for `target`, from the template its JOB_TEMPLATE names (or
 * `templateFile`), with the image its allow-list gives (or `fallbackImage` for a target that is
 * not allowed yet, e.g. the trainer).
 */
export function renderFromBundle(
  b: Bundle,
  target: Target,
  opts: { templateFile?: string; fallbackImage?: string } = {},
): JobManifest {
  const cfg = managerConfig(b);
  const templateFile = opts.templateFile ?? cfg.JOB_TEMPLATES[target] ?? cfg.JOB_TEMPLATE;
  const doc = b.docs.find((d) => d.file === templateFile);
  if (!doc) throw new Error(`no Job template ${templateFile}`);
  const image = cfg.JOB_IMAGES[target] ?? opts.fallbackImage;
  if (!image) throw new Error(`JOB_IMAGES allows no image for ${target}`);
  // JSON is YAML: the (possibly mutated) document goes through the manager's own template parser.
  const template = parseJobTemplate(JSON.stringify(doc.doc));
  const { jobEnv } = settingsFromConfig(cfg);
  return renderJob(
    template,
    { command: sampleCommand(target, image), image, env: jobEnv },
    cfg.JOB_NAMESPACE,
  );
}
