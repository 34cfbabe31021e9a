/** Types of scripts/kube.mjs (a plain ESM script, so CI can run it before npm deps). */
export declare const KUBE_VERSION: string;
export declare const cacheDir: string;
export declare const binDir: string;

/** etcd to run: ETCD_BIN, else the one built into the cache, else `etcd` on PATH. */
export declare function findEtcd(): string | undefined;

/** Builds kube-apiserver (and etcd v3.6 unless one exists) once into `.cache/kube/<version>/bin`. */
export declare function buildKube(opts?: {
  quiet?: boolean;
  etcd?: 'if-missing' | 'always';
}): Promise<{ apiserver: string; etcd: string | undefined }>;

/** A kubeconfig (YAML text) for `server`, trusting `caFile`, authenticating with `token`. */
export declare function kubeconfigYaml(opts: {
  server: string;
  caFile: string;
  token: string;
  user?: string;
}): string;

/** A static-token user: `token,user,uid,"groups"` in the token file. */
export interface StaticToken {
  token: string;
  user: string;
  uid: string;
  groups?: string[];
}

export interface RunningKube {
  /** `https://127.0.0.1:<port>` */
  server: string;
  port: number;
  etcdPort: number;
  /** Temp dir (etcd data, certs, token file, logs); deleted by `stop()` unless `keepDir`. */
  dir: string;
  /** The server's self-signed certificate bundle (the CA to trust). */
  caFile: string;
  /** Static token of `admin` (group system:masters). */
  adminToken: string;
  /** Kubeconfig file for admin. */
  kubeconfig: string;
  logFile: string;
  /** Milliseconds from spawning etcd to /readyz = ok. */
  startMs: number;
  stop(): Promise<void>;
}

/** Starts etcd and kube-apiserver on free 127.0.0.1 ports, token auth and RBAC on. */
export declare function startKube(opts?: {
  tokens?: StaticToken[];
  readyTimeoutMs?: number;
  keepDir?: boolean;
  quiet?: boolean;
}): Promise<RunningKube>;
