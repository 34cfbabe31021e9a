/**
 * The Jobs the queue-manager creates in the cluster, rendered by its own code
 * (shared/jobs/render-job.ts) from the template JOB_TEMPLATE names, with its configuration from the
 * manifests: each validates as a batch/v1 Job, and its environment gives the loader what its
 * loadConfig needs; the trainer's own template (JOB_TEMPLATES) the same way.
 */
import { describe, expect, it } from 'vitest';
import { configProblems, containerEnv } from './env-refs.ts';
import { FUNCTIONS } from './functions.ts';
import { type Json, at, asArray, loadBundle, setAt, withDoc } from './load.ts';
import { managerConfig, renderFromBundle } from './render.ts';
import { loadSchemas } from './schemas.ts';

const bundle = loadBundle();
const schemas = loadSchemas();
const CONTAINER = ['spec', 'template', 'spec', 'containers', 0];
const LOADER = 'knative/jobs/loader-job.yaml';
const TRAINER = 'knative/jobs/trainer-job.yaml';

const containerOf = (job: unknown) => asArray(at(job, 'spec.template.spec.containers'))[0];

describe('Jobs the manager renders', () => {
  it('the manager renders loader Jobs from loader-job.yaml', () => {
    expect(managerConfig(bundle).JOB_TEMPLATE).toBe(LOADER);
  });

  it.each(['loader-api', 'loader-bulk'] as const)(
    'a %s Job validates as a batch/v1 Job and runs the allowed image',
    (target) => {
      const job = renderFromBundle(bundle, target);
      expect(schemas.validate(job)).toEqual([]);
      expect(at(containerOf(job), 'image')).toBe(managerConfig(bundle).JOB_IMAGES[target]);
      expect(at(containerOf(job), 'args')).toEqual([`functions/${target}/main.ts`]);
      expect(at(job, 'metadata.namespace')).toBe(managerConfig(bundle).JOB_NAMESPACE);
    },
  );

  it("a loader-api Job's envFrom names the ConfigMap and Secret in knative/", () => {
    const job = renderFromBundle(bundle, 'loader-api');
    expect(containerEnv(bundle, containerOf(job), { knative: false }).problems).toEqual([]);
  });

  it("a loader-api Job's environment satisfies the loader's loadConfig in a cluster", () => {
    const { env } = containerEnv(bundle, containerOf(renderFromBundle(bundle, 'loader-api')), {
      knative: false,
    });
    expect(configProblems(FUNCTIONS['loader-api']!, env)).toEqual([]);
  });

  it('the manager renders gnn-trainer Jobs from trainer-job.yaml (JOB_TEMPLATES)', () => {
    expect(managerConfig(bundle).JOB_TEMPLATES).toEqual({ 'gnn-trainer': TRAINER });
  });

  it('a gnn-trainer Job validates, and its environment satisfies the trainer with no API token', () => {
    const job = renderFromBundle(bundle, 'gnn-trainer');
    expect(schemas.validate(job)).toEqual([]);
    expect(at(job, 'metadata.labels')).toMatchObject({ 'app.kubernetes.io/component': 'trainer' });
    expect(at(containerOf(job), 'args')).toEqual(['functions/gnn-trainer/main.ts']);
    const { env, problems } = containerEnv(bundle, containerOf(job), { knative: false });
    expect(problems).toEqual([]);
    expect(configProblems(FUNCTIONS['gnn-trainer']!, env)).toEqual([]);
    // The store's and the bucket's credentials by key reference; never the API token.
    expect(
      Object.keys(env)
        .filter((k) => /ARANGO_(USER|PASS)|ARTIFACT_S3_(ACCESS|SECRET)/.test(k))
        .sort(),
    ).toEqual([
      'ARANGO_PASSWORD',
      'ARANGO_USERNAME',
      'ARTIFACT_S3_ACCESS_KEY_ID',
      'ARTIFACT_S3_SECRET_ACCESS_KEY',
    ]);
    expect(env['API_TOKEN']).toBeUndefined();
    expect(asArray(at(containerOf(job), 'envFrom')).some((e) => at(e, 'secretRef') !== undefined)).toBe(
      false,
    );
  });
});

describe('a broken template or configuration shows in the rendered Job', () => {
  const loaderJob = (change: (doc: Json) => void) =>
    renderFromBundle(withDoc(bundle, LOADER, 0, change), 'loader-api');

  it('a misspelt field in the template', () => {
    const job = loaderJob((d) => setAt(d, [...CONTAINER, 'imagePullPolcy'], 'Always'));
    expect(schemas.validate(job).join('\n')).toMatch(/additional properties \(imagePullPolcy\)/);
  });

  it('a template whose envFrom names a ConfigMap that does not exist', () => {
    const job = loaderJob((d) =>
      setAt(d, [...CONTAINER, 'envFrom'], [{ configMapRef: { name: 'missing' } }]),
    );
    expect(containerEnv(bundle, containerOf(job), { knative: false }).problems.join('\n')).toMatch(
      /ConfigMap "missing", which is not in knative\//,
    );
  });

  it('a ConfigMap without KAFKA_BROKERS leaves the loader on the in-process bus', () => {
    const b = withDoc(bundle, 'knative/config.yaml', 0, (d) =>
      setAt(d, ['data', 'KAFKA_BROKERS'], undefined),
    );
    const { env } = containerEnv(b, containerOf(renderFromBundle(b, 'loader-api')), { knative: false });
    expect(configProblems(FUNCTIONS['loader-api']!, env).join('\n')).toMatch(
      /KAFKA_BROKERS must be set in a cluster/,
    );
  });

  it('an allow-list without the loader refuses to render', () => {
    const b = withDoc(bundle, 'knative/config.yaml', 0, (d) => setAt(d, ['data', 'JOB_IMAGES'], ''));
    expect(() => renderFromBundle(b, 'loader-api')).toThrow(/JOB_IMAGES allows no image for loader-api/);
  });
});
