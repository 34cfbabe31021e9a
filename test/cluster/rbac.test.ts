/**
 * Least privilege, checked by a real API server with RBAC on: the manager's ServiceAccount, bound to
 * the Role in knative/rbac.yaml, may create, list, watch and delete Jobs in its namespace and do
 * nothing else: not in another namespace, not cluster-wide, no Secrets, no pods (exec, logs), no
 * changes to RBAC. Each answer comes from a SelfSubjectAccessReview sent with a real ServiceAccount
 * token (TokenRequest), and the same is cross-checked with `kubectl auth can-i --as`.
 */
import { AuthorizationV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CLUSTER_TIMEOUT_MS,
  MANAGER_SA,
  MANAGER_USER,
  NS,
  SKIP_KUBE,
  readRepoFile,
  startTestCluster,
  type TestCluster,
} from './cluster.ts';

interface Check {
  verb: string;
  /** `resource`, `resource/subresource`, with `.group` for non-core groups (kubectl style). */
  resource: string;
  /** Namespace; '' = cluster-wide (all namespaces). */
  ns: string;
}

/** What the Role grants: exactly the launcher's four verbs on Jobs in its own namespace. */
const ALLOWED: Check[] = ['create', 'list', 'watch', 'delete'].map((verb) => ({
  verb,
  resource: 'jobs.batch',
  ns: NS,
}));

const DENIED: Check[] = [
  // Jobs: no reads by name, no changes, nothing on their status; not elsewhere, not cluster-wide.
  ...['get', 'update', 'patch', 'deletecollection'].map((verb) => ({ verb, resource: 'jobs.batch', ns: NS })),
  { verb: 'update', resource: 'jobs.batch/status', ns: NS },
  ...['create', 'list', 'watch', 'delete'].map((verb) => ({ verb, resource: 'jobs.batch', ns: 'other' })),
  { verb: 'list', resource: 'jobs.batch', ns: '' },
  { verb: 'create', resource: 'cronjobs.batch', ns: NS },
  // Secrets: not even its own namespace's.
  ...['get', 'list', 'watch', 'create'].map((verb) => ({ verb, resource: 'secrets', ns: NS })),
  // Pods: no exec, attach, logs, reads or creation.
  { verb: 'create', resource: 'pods/exec', ns: NS },
  { verb: 'create', resource: 'pods/attach', ns: NS },
  { verb: 'get', resource: 'pods/log', ns: NS },
  { verb: 'get', resource: 'pods', ns: NS },
  { verb: 'list', resource: 'pods', ns: NS },
  { verb: 'create', resource: 'pods', ns: NS },
  // Nothing else in the namespace: config, identities, tokens, RBAC, workloads, Knative objects.
  { verb: 'get', resource: 'configmaps', ns: NS },
  { verb: 'create', resource: 'serviceaccounts/token', ns: NS },
  { verb: 'create', resource: 'roles.rbac.authorization.k8s.io', ns: NS },
  { verb: 'create', resource: 'rolebindings.rbac.authorization.k8s.io', ns: NS },
  { verb: 'create', resource: 'deployments.apps', ns: NS },
  { verb: 'update', resource: 'services.serving.knative.dev', ns: NS },
  { verb: 'create', resource: 'kafkasources.sources.knative.dev', ns: NS },
  { verb: 'create', resource: 'namespaces', ns: '' },
  { verb: 'impersonate', resource: 'serviceaccounts', ns: NS },
];

function split(resource: string): { resource: string; subresource?: string; group: string } {
  const [res = '', sub] = resource.split('/');
  const dot = res.indexOf('.');
  return {
    resource: dot < 0 ? res : res.slice(0, dot),
    group: dot < 0 ? '' : res.slice(dot + 1),
    ...(sub ? { subresource: sub } : {}),
  };
}

const name = (c: Check) => `${c.verb} ${c.resource} in ${c.ns || 'all namespaces'}`;

const suite = SKIP_KUBE ? describe.skip : describe;

suite('RBAC: the manager ServiceAccount can manage Jobs in its namespace and nothing else', () => {
  let c: TestCluster;
  let asManager: AuthorizationV1Api;

  beforeAll(async () => {
    c = await startTestCluster({ crds: [] });
    c.kubectlOk(['create', 'namespace', NS]);
    c.kubectlOk(['create', 'namespace', 'other']);
    // The Role, RoleBinding and ServiceAccount exactly as shipped (namespace from the command, as kustomize sets it).
    c.kubectlOk(['apply', '-n', NS, '-f', '-'], { input: readRepoFile('knative/rbac.yaml') });
    asManager = c.kubeConfig(c.serviceAccountToken(NS, MANAGER_SA)).makeApiClient(AuthorizationV1Api);
  }, CLUSTER_TIMEOUT_MS);
  afterAll(async () => {
    await c?.stop();
  });

  async function allowed(check: Check): Promise<boolean> {
    const review = await asManager.createSelfSubjectAccessReview({
      body: {
        apiVersion: 'authorization.k8s.io/v1',
        kind: 'SelfSubjectAccessReview',
        spec: { resourceAttributes: { verb: check.verb, namespace: check.ns, ...split(check.resource) } },
      },
    });
    return review.status?.allowed === true;
  }

  it('authenticates the token as the ServiceAccount', () => {
    const r = c.kubectlOk(['auth', 'whoami', '-o', 'jsonpath={.status.userInfo.username}'], {
      token: c.serviceAccountToken(NS, MANAGER_SA),
    });
    expect(r).toBe(MANAGER_USER);
  });

  it.each(ALLOWED.map((x) => [name(x), x] as const))('may %s', async (_n, check) => {
    expect(await allowed(check)).toBe(true);
  });

  it.each(DENIED.map((x) => [name(x), x] as const))('may not %s', async (_n, check) => {
    expect(await allowed(check)).toBe(false);
  });

  it('kubectl auth can-i --as agrees (SubjectAccessReview by an admin)', () => {
    const canI = (args: string[]) =>
      c
        .kubectl(['auth', 'can-i', ...args, `--as=${MANAGER_USER}`, '--as-group=system:serviceaccounts'])
        .stdout.trim();
    expect(canI(['create', 'jobs.batch', '-n', NS])).toBe('yes');
    expect(canI(['watch', 'jobs.batch', '-n', NS])).toBe('yes');
    expect(canI(['delete', 'jobs.batch', '-n', NS])).toBe('yes');
    expect(canI(['create', 'jobs.batch', '-n', 'other'])).toBe('no');
    expect(canI(['get', 'secrets', '-n', NS])).toBe('no');
    expect(canI(['create', 'pods/exec', '-n', NS])).toBe('no');
  });

  it('the Role lists only what the launcher uses', () => {
    const rules = JSON.parse(
      c.kubectlOk(['-n', NS, 'get', 'role', MANAGER_SA, '-o', 'jsonpath={.rules}']),
    ) as {
      apiGroups: string[];
      resources: string[];
      verbs: string[];
    }[];
    expect(rules).toEqual([
      { apiGroups: ['batch'], resources: ['jobs'], verbs: ['create', 'list', 'watch', 'delete'] },
    ]);
  });
});
