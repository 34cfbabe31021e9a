/**
 * Who may deliver CloudEvents to a function's intake (`POST /`): a caller holding a shared secret,
 * or a Knative source sending an OIDC token for the function's audience (knative.md "Sender
 * identity (OIDC) for event delivery": a KafkaSource sends a Kubernetes ServiceAccount token,
 * verified against the cluster issuer's JWKS). A verifier throws UnauthorizedError (401, which a
 * KafkaSource does not retry: the event goes to the dead-letter sink) when the sender is refused,
 * and DependencyError (503, retried) when the issuer's keys cannot be fetched: the receiver cannot
 * tell, so the sender must not lose the event for it.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import {
  createRemoteJWKSet,
  customFetch,
  errors,
  type FetchImplementation,
  jwtVerify,
  type JWTVerifyGetKey,
  type JWTVerifyOptions,
} from 'jose';
import { z } from 'zod';
import { ConfigError, env } from './config.ts';
import { AppError, DependencyError, UnauthorizedError } from './errors.ts';

/** Resolves when `authorization` (the header, as received) admits the sender; throws otherwise. */
export type IntakeVerifier = (authorization: string | undefined) => Promise<void>;

export interface OidcOptions {
  /** The token issuer (`iss`); discovery is read from `${issuer}/.well-known/openid-configuration`. */
  issuer: string;
  /** The audience the sender requested its token for (`aud`), e.g. the sink's Knative audience. */
  audience: string;
  /** The JWKS; unset = the discovery document's `jwks_uri`. */
  jwksUrl?: string | undefined;
  /**
   * Headers for the discovery and JWKS requests (a Kubernetes API server wants a bearer token).
   * A function is called per request, so a rotated token file is reread. Sent to the issuer's
   * origin and to an explicit `jwksUrl`; a discovered `jwks_uri` on another origin gets none.
   */
  jwksHeaders?: Record<string, string> | (() => Record<string, string>) | undefined;
  /**
   * Leeway for `exp`/`nbf`/`iat`, seconds. Default 60, as Kubernetes' own token validation: a
   * sender's clock slightly ahead must not turn a fresh token into a 401 that is never retried.
   */
  clockToleranceSec?: number | undefined;
  /** Minimum time between two JWKS refetches for an unknown `kid` (jose's default: 30 000 ms). */
  jwksCooldownMs?: number | undefined;
}

/** Asymmetric signatures only: never `none`, never HS* (a public JWKS must not yield an HMAC key). */
const ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];
const BEARER = /^Bearer\s+(\S+)\s*$/i;
const JWS_SHAPE = /^[\w-]*\.[\w-]*\.[\w-]*$/;
const FETCH_TIMEOUT_MS = 5_000;
const digest = (s: string) => createHash('sha256').update(s).digest();
const Discovery = z.object({ issuer: z.string(), jwks_uri: z.url() });

/**
 * A verifier that accepts `Authorization: Bearer <x>` when x is one of `secrets`, or when x is a
 * JWT from `oidc.issuer` for `oidc.audience` (asymmetric signature, `exp` required). Throws
 * TypeError when neither is given: an intake is never open by accident (see {@link openIntake}).
 */
export function createIntakeVerifier(opts: {
  secrets?: string[] | undefined;
  oidc?: OidcOptions | undefined;
}): IntakeVerifier {
  const secrets = (opts.secrets ?? []).map((s) => {
    if (s.length === 0) throw new TypeError('createIntakeVerifier: an empty shared secret');
    return digest(s);
  });
  if (secrets.length === 0 && !opts.oidc)
    throw new TypeError(
      'createIntakeVerifier: give secrets or oidc (openIntake() for an intake with no check)',
    );
  const verifyJwt = opts.oidc && createJwtCheck(opts.oidc);
  return async (authorization) => {
    if (!authorization) throw new UnauthorizedError('missing Authorization header');
    const token = BEARER.exec(authorization)?.[1];
    if (!token) throw new UnauthorizedError('Authorization header is not a bearer token');
    // Compare digests: equal length, so the comparison time says nothing about the secret.
    const d = digest(token);
    if (secrets.some((s) => timingSafeEqual(s, d))) return;
    if (verifyJwt && (secrets.length === 0 || JWS_SHAPE.test(token))) return verifyJwt(token);
    throw new UnauthorizedError('bearer token does not match the intake secret');
  };
}

/**
 * A verifier that accepts every request. Only for an intake explicitly configured open
 * (`INTAKE_AUTH_DISABLED=true`), e.g. on a laptop or behind knative/network-policy.yaml.
 */
export function openIntake(): IntakeVerifier {
  return () => Promise.resolve();
}

function createJwtCheck(oidc: OidcOptions): (token: string) => Promise<void> {
  const issuer = oidc.issuer;
  const base = issuer.replace(/\/+$/, '');
  const given = oidc.jwksHeaders;
  const headers = typeof given === 'function' ? given : () => given ?? {};
  const options: JWTVerifyOptions = {
    issuer,
    audience: oidc.audience,
    algorithms: ALGORITHMS,
    requiredClaims: ['exp'],
    clockTolerance: oidc.clockToleranceSec ?? 60,
  };

  const discover = async (): Promise<URL> => {
    const url = `${base}/.well-known/openid-configuration`;
    const res = await fetch(url, { headers: headers(), signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) });
    if (res.status !== 200) throw new Error(`HTTP ${res.status}`);
    const doc = Discovery.parse(await res.json());
    // OpenID Connect Discovery 1.0 §4.3: the document must name the issuer it was asked for.
    if (doc.issuer !== issuer) throw new Error(`it names issuer ${doc.issuer}`);
    return new URL(doc.jwks_uri);
  };
  // Discovery runs once, on the first token that needs a key; a failure is not cached.
  let keys: Promise<JWTVerifyGetKey> | undefined;
  const remoteKeys = async (): Promise<JWTVerifyGetKey> => {
    const explicit = oidc.jwksUrl;
    const url = explicit
      ? new URL(explicit)
      : await discover().catch((err: unknown) => {
          throw new DependencyError(`OIDC discovery of ${base} failed: ${messageOf(err)}`, err);
        });
    const send = explicit !== undefined || url.origin === new URL(base).origin;
    const fetchJwks: FetchImplementation = (u, init) => {
      const h = new Headers(init.headers);
      if (send) for (const [k, v] of Object.entries(headers())) h.set(k, v);
      return fetch(u, { ...init, headers: h });
    };
    const remote = createRemoteJWKSet(url, {
      timeoutDuration: FETCH_TIMEOUT_MS,
      ...(oidc.jwksCooldownMs === undefined ? {} : { cooldownDuration: oidc.jwksCooldownMs }),
      [customFetch]: fetchJwks,
    });
    return async (header, token) => {
      try {
        return await remote(header, token);
      } catch (err) {
        // No key for the token's kid/alg is the token's fault; anything else is the JWKS's.
        if (err instanceof errors.JWKSNoMatchingKey || err instanceof errors.JWKSMultipleMatchingKeys)
          throw err;
        throw new DependencyError(`JWKS ${url.href} unavailable: ${messageOf(err)}`, err);
      }
    };
  };
  const getKey: JWTVerifyGetKey = async (header, token) => {
    keys ??= remoteKeys().catch((err: unknown) => {
      keys = undefined;
      throw err;
    });
    return (await keys)(header, token);
  };

  return async (token) => {
    try {
      await jwtVerify(token, getKey, options);
    } catch (err) {
      if (err instanceof AppError) throw err;
      // jose's messages name the check that failed, never a claim's value or the token.
      if (err instanceof errors.JOSEError) throw new UnauthorizedError(`JWT invalid: ${err.message}`);
      throw err;
    }
  };
}

const messageOf = (err: unknown) =>
  err instanceof Error
    ? err.cause instanceof Error
      ? `${err.message}: ${err.cause.message}`
      : err.message
    : String(err);

/**
 * The intake's environment, to merge into a function's schema: `Config.extend(IntakeAuthConfig.shape)`.
 * Cross-field rules live in {@link verifierFromConfig} (an object with refinements cannot be extended).
 */
export const IntakeAuthConfig = z.object({
  /** Shared secret a sender puts in `Authorization: Bearer`. */
  INTAKE_TOKEN: z.string().min(16).optional(),
  /** OIDC issuer of sender tokens, e.g. the cluster's ServiceAccount issuer. */
  INTAKE_OIDC_ISSUER: z.url().optional(),
  /** Audience the tokens must carry; required with INTAKE_OIDC_ISSUER. */
  INTAKE_OIDC_AUDIENCE: z.string().min(1).optional(),
  /** JWKS URL; unset = discovered (in a pod: https://kubernetes.default.svc/openid/v1/jwks). */
  INTAKE_OIDC_JWKS_URL: z.url().optional(),
  /** Bearer token file for the discovery/JWKS requests: /var/run/secrets/kubernetes.io/serviceaccount/token. */
  INTAKE_OIDC_JWKS_TOKEN_FILE: z.string().min(1).optional(),
  /** Explicit opt-out: accept unauthenticated events (only behind a NetworkPolicy). */
  INTAKE_AUTH_DISABLED: env.bool(false),
});
export type IntakeAuthConfig = z.infer<typeof IntakeAuthConfig>;

/**
 * The verifier the configuration asks for. Throws ConfigError, naming the variables, when no
 * check is configured and INTAKE_AUTH_DISABLED is not true, when it is true while a check is
 * configured (a leftover opt-out must not silently win), or when the OIDC settings are incomplete.
 */
export function verifierFromConfig(
  cfg: IntakeAuthConfig,
  readFile: (path: string, encoding: 'utf8') => string = readFileSync,
): IntakeVerifier {
  const problems: string[] = [];
  const issuer = cfg.INTAKE_OIDC_ISSUER;
  const audience = cfg.INTAKE_OIDC_AUDIENCE;
  const configured = cfg.INTAKE_TOKEN !== undefined || issuer !== undefined;
  if (cfg.INTAKE_AUTH_DISABLED && configured)
    problems.push('INTAKE_AUTH_DISABLED: true while INTAKE_TOKEN or INTAKE_OIDC_ISSUER is set; unset one');
  if (!cfg.INTAKE_AUTH_DISABLED && !configured)
    problems.push(
      'no intake authentication: set INTAKE_TOKEN and/or INTAKE_OIDC_ISSUER with INTAKE_OIDC_AUDIENCE, ' +
        'or INTAKE_AUTH_DISABLED=true to accept unauthenticated events',
    );
  if (issuer !== undefined && audience === undefined)
    problems.push('INTAKE_OIDC_AUDIENCE: required when INTAKE_OIDC_ISSUER is set');
  if (issuer === undefined)
    for (const k of ['INTAKE_OIDC_AUDIENCE', 'INTAKE_OIDC_JWKS_URL', 'INTAKE_OIDC_JWKS_TOKEN_FILE'] as const)
      if (cfg[k] !== undefined) problems.push(`${k}: needs INTAKE_OIDC_ISSUER`);
  const file = cfg.INTAKE_OIDC_JWKS_TOKEN_FILE;
  const readToken = file && (() => readFile(file, 'utf8').trim());
  if (readToken) {
    try {
      if (readToken() === '') problems.push(`INTAKE_OIDC_JWKS_TOKEN_FILE: ${file} is empty`);
    } catch (err) {
      problems.push(`INTAKE_OIDC_JWKS_TOKEN_FILE: cannot read ${file}: ${messageOf(err)}`);
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  if (cfg.INTAKE_AUTH_DISABLED) return openIntake();
  return createIntakeVerifier({
    secrets: cfg.INTAKE_TOKEN === undefined ? [] : [cfg.INTAKE_TOKEN],
    oidc:
      issuer === undefined || audience === undefined
        ? undefined
        : {
            issuer,
            audience,
            jwksUrl: cfg.INTAKE_OIDC_JWKS_URL,
            // Reread per JWKS fetch: the kubelet rotates a projected ServiceAccount token.
            jwksHeaders: readToken ? () => ({ authorization: `Bearer ${readToken()}` }) : undefined,
          },
  });
}
