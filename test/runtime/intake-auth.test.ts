/**
 * The intake verifier against real parts: RSA and EC keys made by jose, tokens signed with SignJWT,
 * and the issuer's discovery document and JWKS served by a node:http server on 127.0.0.1:0, as a
 * Kubernetes API server serves them (/.well-known/openid-configuration, /openid/v1/jwks).
 * Refusals are asserted through classify(), the platform's one error → HTTP mapping.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { type CryptoKey, exportJWK, generateKeyPair, type JWK, SignJWT, UnsecuredJWT } from 'jose';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { BaseConfig, ConfigError, loadConfig } from '../../shared/runtime/config.ts';
import { classify, DependencyError, UnauthorizedError } from '../../shared/runtime/errors.ts';
import {
  createIntakeVerifier,
  IntakeAuthConfig,
  type IntakeVerifier,
  type OidcOptions,
  openIntake,
  verifierFromConfig,
} from '../../shared/runtime/intake-auth.ts';

const AUDIENCE = 'serving.knative.dev/service/streamforge/queue-manager';
const SUB = 'system:serviceaccount:streamforge:queue-manager-kafka-source-oidc';
const SECRET = 'a-shared-secret-of-32-characters';
const DISCOVERY = '/.well-known/openid-configuration';
const JWKS = '/openid/v1/jwks';

interface Signer {
  key: CryptoKey;
  jwk: JWK;
  kid: string;
  alg: string;
}
async function signer(alg: 'RS256' | 'ES256', kid: string): Promise<Signer> {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
  return { key: privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' }, kid, alg };
}

interface Peer {
  url: string;
  seen: { path: string; authorization: string | undefined }[];
  close: () => Promise<void>;
}
/** A real HTTP server; `answer` returns [status, JSON body] per path. */
async function startPeer(answer: (path: string) => [number, unknown]): Promise<Peer> {
  const seen: Peer['seen'] = [];
  const server = http.createServer((req, res) => {
    const path = req.url ?? '/';
    seen.push({ path, authorization: req.headers.authorization });
    const [status, body] = answer(path);
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const close = () =>
    new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    });
  return { url, seen, close };
}

/** A URL where nothing listens (a server that was started and closed). */
async function deadUrl(): Promise<string> {
  const p = await startPeer(() => [200, {}]);
  await p.close();
  return p.url;
}

let rsa: Signer, ec: Signer, rotated: Signer, stranger: Signer;
/** What the issuer serves; reset before each test. */
const issuerState: {
  keys: JWK[];
  failing: boolean;
  jwksUri?: string | undefined;
  names?: string | undefined;
} = {
  keys: [],
  failing: false,
};
let issuer: Peer;
let other: Peer;

beforeAll(async () => {
  [rsa, ec, rotated, stranger] = await Promise.all([
    signer('RS256', 'rsa-1'),
    signer('ES256', 'ec-1'),
    signer('RS256', 'rsa-2'),
    signer('RS256', 'stranger'),
  ]);
  issuer = await startPeer((path) => {
    if (issuerState.failing) return [500, { error: 'down' }];
    if (path === DISCOVERY)
      return [
        200,
        { issuer: issuerState.names ?? issuer.url, jwks_uri: issuerState.jwksUri ?? `${issuer.url}${JWKS}` },
      ];
    if (path === JWKS) return [200, { keys: issuerState.keys }];
    return [404, {}];
  });
  other = await startPeer((path) => (path === JWKS ? [200, { keys: issuerState.keys }] : [404, {}]));
});
afterAll(async () => {
  await Promise.all([issuer.close(), other.close()]);
});
beforeEach(() => {
  Object.assign(issuerState, {
    keys: [rsa.jwk, ec.jwk],
    failing: false,
    jwksUri: undefined,
    names: undefined,
  });
  issuer.seen.length = 0;
  other.seen.length = 0;
});

const now = () => Math.floor(Date.now() / 1000);
async function token(
  s: Signer,
  over: { iss?: string; aud?: string; exp?: number | null; nbf?: number; kid?: string } = {},
): Promise<string> {
  const jwt = new SignJWT({ sub: SUB })
    .setProtectedHeader({ alg: s.alg, kid: over.kid ?? s.kid })
    .setIssuer(over.iss ?? issuer.url)
    .setAudience(over.aud ?? AUDIENCE)
    .setIssuedAt(now() - 5);
  if (over.exp !== null) jwt.setExpirationTime(over.exp ?? now() + 600);
  if (over.nbf !== undefined) jwt.setNotBefore(over.nbf);
  return jwt.sign(s.key);
}

const oidc = (extra: Partial<OidcOptions> = {}): OidcOptions => ({
  issuer: issuer.url,
  audience: AUDIENCE,
  ...extra,
});

/** What a refusal answers: the classified status, retry flag and message (never the token). */
async function refusal(verify: IntakeVerifier, authorization: string | undefined) {
  const err = await verify(authorization).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, 'the verifier accepted').toBeDefined();
  const c = classify(err);
  const credential = /^\S+\s+(\S+)/.exec(authorization ?? '')?.[1];
  if (credential) expect(c.message).not.toContain(credential);
  return { status: c.status, retry: c.retry, message: c.message, err };
}
const refused = (message: string) => ({
  status: 401,
  retry: false,
  message,
  err: expect.any(UnauthorizedError) as unknown,
});
const unavailable = (message: RegExp) => ({
  status: 503,
  retry: true,
  message: expect.stringMatching(message) as string,
  err: expect.any(DependencyError) as unknown,
});

describe('createIntakeVerifier with a shared secret', () => {
  const verify = createIntakeVerifier({ secrets: ['another-secret-of-some-length', SECRET] });

  it('accepts the right secret, any case of "Bearer"', async () => {
    await expect(verify(`Bearer ${SECRET}`)).resolves.toBeUndefined();
    await expect(verify(`bearer ${SECRET}`)).resolves.toBeUndefined();
  });

  it.each([
    ['a wrong secret', `Bearer ${SECRET}x`, 'bearer token does not match the intake secret'],
    [
      'a JWT where only a secret is configured',
      'Bearer aaa.bbb.ccc',
      'bearer token does not match the intake secret',
    ],
    ['no header', undefined, 'missing Authorization header'],
    ['an empty header', '', 'missing Authorization header'],
    ['Basic credentials', 'Basic x', 'Authorization header is not a bearer token'],
    ['a bearer with nothing', 'Bearer ', 'Authorization header is not a bearer token'],
  ])('refuses %s with 401', async (_name, header, message) => {
    expect(await refusal(verify, header)).toEqual(refused(message));
  });
});

describe('createIntakeVerifier with OIDC (a Kubernetes ServiceAccount issuer)', () => {
  it('accepts a valid RS256 token and a valid ES256 token', async () => {
    const verify = createIntakeVerifier({ oidc: oidc() });
    await expect(verify(`Bearer ${await token(rsa)}`)).resolves.toBeUndefined();
    await expect(verify(`Bearer ${await token(ec)}`)).resolves.toBeUndefined();
  });

  it('accepts a token that expired 10 s ago: within the default 60 s clock tolerance', async () => {
    const verify = createIntakeVerifier({ oidc: oidc() });
    await expect(verify(`Bearer ${await token(rsa, { exp: now() - 10 })}`)).resolves.toBeUndefined();
  });

  it('accepts both a secret and a JWT when both are configured', async () => {
    const verify = createIntakeVerifier({ secrets: [SECRET], oidc: oidc() });
    await expect(verify(`Bearer ${SECRET}`)).resolves.toBeUndefined();
    await expect(verify(`Bearer ${await token(rsa)}`)).resolves.toBeUndefined();
    expect(await refusal(verify, 'Bearer not-a-jwt')).toEqual(
      refused('bearer token does not match the intake secret'),
    );
  });

  const unsigned = () =>
    new UnsecuredJWT({ sub: SUB })
      .setIssuer(issuer.url)
      .setAudience(AUDIENCE)
      .setExpirationTime(now() + 600)
      .encode();
  const hs256 = () =>
    new SignJWT({ sub: SUB })
      .setProtectedHeader({ alg: 'HS256', kid: rsa.kid })
      .setIssuer(issuer.url)
      .setAudience(AUDIENCE)
      .setExpirationTime(now() + 600)
      .sign(new TextEncoder().encode('guessed-secret'));
  const cases: [string, () => Promise<string> | string, string][] = [
    [
      'a wrong audience',
      () => token(rsa, { aud: 'serving.knative.dev/service/streamforge/other' }),
      'unexpected "aud" claim value',
    ],
    ['a wrong issuer', () => token(rsa, { iss: 'https://evil.example' }), 'unexpected "iss" claim value'],
    ['an expired token', () => token(rsa, { exp: now() - 120 }), '"exp" claim timestamp check failed'],
    ['a token not valid yet', () => token(rsa, { nbf: now() + 300 }), '"nbf" claim timestamp check failed'],
    ['a token without exp', () => token(rsa, { exp: null }), 'missing required "exp" claim'],
    [
      'a token signed by an unknown key',
      () => token(stranger),
      'no applicable key found in the JSON Web Key Set',
    ],
    [
      'a token signed by another key under a known kid',
      () => token(stranger, { kid: rsa.kid }),
      'signature verification failed',
    ],
    ['an unsigned token (alg none)', unsigned, '"alg" (Algorithm) Header Parameter value not allowed'],
    [
      'an HS256 token signed with a guessed secret',
      hs256,
      '"alg" (Algorithm) Header Parameter value not allowed',
    ],
    ['garbage', () => 'not-a-jwt', 'Invalid Compact JWS'],
    ['three garbage parts', () => 'aaa.bbb.ccc', 'JWS Protected Header is invalid'],
  ];
  it.each(cases)('refuses %s with 401', async (_name, make, reason) => {
    const verify = createIntakeVerifier({ oidc: oidc() });
    expect(await refusal(verify, `Bearer ${await make()}`)).toEqual(refused(`JWT invalid: ${reason}`));
  });

  it('fetches discovery and the JWKS once for many verifications', async () => {
    const verify = createIntakeVerifier({ oidc: oidc() });
    const tokens = await Promise.all([token(rsa), token(ec), token(rsa)]);
    await Promise.all(tokens.map((t) => verify(`Bearer ${t}`)));
    for (const t of tokens) await verify(`Bearer ${t}`);
    expect(issuer.seen.map((s) => s.path)).toEqual([DISCOVERY, JWKS]);
  });

  it('fetches nothing for a token refused before a key is needed', async () => {
    const verify = createIntakeVerifier({ oidc: oidc() });
    await refusal(verify, `Bearer ${await hs256()}`);
    await refusal(verify, 'Bearer not-a-jwt');
    expect(issuer.seen).toEqual([]);
  });

  it('sends jwksHeaders with the discovery and JWKS requests, calling a header function per request', async () => {
    let n = 0;
    const verify = createIntakeVerifier({
      oidc: oidc({ jwksHeaders: () => ({ authorization: `Bearer sa-token-${++n}` }), jwksCooldownMs: 0 }),
    });
    await verify(`Bearer ${await token(rsa)}`);
    issuerState.keys = [rotated.jwk];
    await verify(`Bearer ${await token(rotated)}`);
    expect(issuer.seen).toEqual([
      { path: DISCOVERY, authorization: 'Bearer sa-token-1' },
      { path: JWKS, authorization: 'Bearer sa-token-2' },
      { path: JWKS, authorization: 'Bearer sa-token-3' },
    ]);
  });

  it('does not send jwksHeaders to a discovered jwks_uri on another origin', async () => {
    issuerState.jwksUri = `${other.url}${JWKS}`;
    const verify = createIntakeVerifier({
      oidc: oidc({ jwksHeaders: { authorization: 'Bearer sa-token' } }),
    });
    await expect(verify(`Bearer ${await token(rsa)}`)).resolves.toBeUndefined();
    expect(issuer.seen).toEqual([{ path: DISCOVERY, authorization: 'Bearer sa-token' }]);
    expect(other.seen).toEqual([{ path: JWKS, authorization: undefined }]);
  });

  it('sends jwksHeaders to an explicit jwksUrl on another origin, and skips discovery', async () => {
    const verify = createIntakeVerifier({
      oidc: oidc({ jwksUrl: `${other.url}${JWKS}`, jwksHeaders: { authorization: 'Bearer sa-token' } }),
    });
    await expect(verify(`Bearer ${await token(rsa)}`)).resolves.toBeUndefined();
    expect(issuer.seen).toEqual([]);
    expect(other.seen).toEqual([{ path: JWKS, authorization: 'Bearer sa-token' }]);
  });

  it('accepts a token signed by a rotated-in key once the JWKS cooldown has passed', async () => {
    const verify = createIntakeVerifier({ oidc: oidc({ jwksCooldownMs: 0 }) });
    await verify(`Bearer ${await token(rsa)}`);
    issuerState.keys = [rotated.jwk, rsa.jwk];
    await expect(verify(`Bearer ${await token(rotated)}`)).resolves.toBeUndefined();
    expect(issuer.seen.map((s) => s.path)).toEqual([DISCOVERY, JWKS, JWKS]);
  });

  it('refuses a rotated-in key within the cooldown (jose default 30 s) without refetching', async () => {
    const verify = createIntakeVerifier({ oidc: oidc() });
    await verify(`Bearer ${await token(rsa)}`);
    issuerState.keys = [rotated.jwk, rsa.jwk];
    expect(await refusal(verify, `Bearer ${await token(rotated)}`)).toEqual(
      refused('JWT invalid: no applicable key found in the JSON Web Key Set'),
    );
    expect(issuer.seen.map((s) => s.path)).toEqual([DISCOVERY, JWKS]);
  });
});

describe('an issuer that cannot be reached is the receiver’s problem: 503 (DependencyError), retried', () => {
  it('discovery endpoint down', async () => {
    const url = await deadUrl();
    const verify = createIntakeVerifier({ oidc: { issuer: url, audience: AUDIENCE } });
    const t = await token(rsa, { iss: url });
    expect(await refusal(verify, `Bearer ${t}`)).toEqual(
      unavailable(/^OIDC discovery of http:\/\/127\.0\.0\.1:\d+ failed: fetch failed: connect ECONNREFUSED/),
    );
  });

  it('explicit JWKS endpoint down', async () => {
    const verify = createIntakeVerifier({ oidc: oidc({ jwksUrl: `${await deadUrl()}${JWKS}` }) });
    expect(await refusal(verify, `Bearer ${await token(rsa)}`)).toEqual(
      unavailable(
        /^JWKS http:\/\/127\.0\.0\.1:\d+\/openid\/v1\/jwks unavailable: fetch failed: connect ECONNREFUSED/,
      ),
    );
  });

  it('JWKS answering 500, then recovering: the failure is not cached', async () => {
    const verify = createIntakeVerifier({ oidc: oidc({ jwksUrl: `${issuer.url}${JWKS}` }) });
    issuerState.failing = true;
    const t = await token(rsa);
    expect(await refusal(verify, `Bearer ${t}`)).toEqual(
      unavailable(/unavailable: Expected 200 OK from the JSON Web Key Set HTTP response$/),
    );
    issuerState.failing = false;
    await expect(verify(`Bearer ${t}`)).resolves.toBeUndefined();
  });

  it('discovery answering 500, then recovering: discovery is retried', async () => {
    const verify = createIntakeVerifier({ oidc: oidc() });
    issuerState.failing = true;
    const t = await token(rsa);
    expect(await refusal(verify, `Bearer ${t}`)).toEqual(unavailable(/failed: HTTP 500$/));
    issuerState.failing = false;
    await expect(verify(`Bearer ${t}`)).resolves.toBeUndefined();
    expect(issuer.seen.map((s) => s.path)).toEqual([DISCOVERY, DISCOVERY, JWKS]);
  });

  it('a discovery document naming another issuer', async () => {
    issuerState.names = 'https://kubernetes.default.svc';
    const verify = createIntakeVerifier({ oidc: oidc() });
    expect(await refusal(verify, `Bearer ${await token(rsa)}`)).toEqual(
      unavailable(/failed: it names issuer https:\/\/kubernetes\.default\.svc$/),
    );
  });
});

describe('open by explicit choice only', () => {
  it('createIntakeVerifier with neither secrets nor oidc is a programming error', () => {
    expect(() => createIntakeVerifier({})).toThrow(TypeError);
    expect(() => createIntakeVerifier({ secrets: [] })).toThrow(/give secrets or oidc/);
    expect(() => createIntakeVerifier({ secrets: [''] })).toThrow(/empty shared secret/);
  });

  it('openIntake accepts a request without a header', async () => {
    await expect(openIntake()(undefined)).resolves.toBeUndefined();
  });
});

describe('IntakeAuthConfig and verifierFromConfig', () => {
  const parse = (env: Record<string, string>) => loadConfig(IntakeAuthConfig, env);
  const problems = (env: Record<string, string>, readFile?: (p: string, e: 'utf8') => string) => {
    try {
      verifierFromConfig(parse(env), readFile);
    } catch (err) {
      if (err instanceof ConfigError) return err.problems;
      throw err;
    }
    return [];
  };

  it('parses the env, and extends a function config by its shape', () => {
    expect(parse({})).toEqual({ INTAKE_AUTH_DISABLED: false });
    const env = {
      INTAKE_TOKEN: SECRET,
      INTAKE_OIDC_ISSUER: 'https://kubernetes.default.svc.cluster.local',
      INTAKE_OIDC_AUDIENCE: AUDIENCE,
      INTAKE_OIDC_JWKS_URL: 'https://kubernetes.default.svc/openid/v1/jwks',
      INTAKE_OIDC_JWKS_TOKEN_FILE: '/var/run/secrets/kubernetes.io/serviceaccount/token',
      INTAKE_AUTH_DISABLED: 'false',
    };
    expect(parse(env)).toEqual({ ...env, INTAKE_AUTH_DISABLED: false });
    expect(
      loadConfig(BaseConfig.extend(IntakeAuthConfig.shape), { PORT: '1', INTAKE_TOKEN: SECRET }),
    ).toMatchObject({
      PORT: 1,
      INTAKE_TOKEN: SECRET,
      INTAKE_AUTH_DISABLED: false,
    });
  });

  it('reports a short token and a non-URL issuer by variable name', () => {
    expect(() => parse({ INTAKE_TOKEN: 'short', INTAKE_OIDC_ISSUER: 'kubernetes' })).toThrow(
      expect.objectContaining({
        problems: [expect.stringMatching(/^INTAKE_TOKEN: /), expect.stringMatching(/^INTAKE_OIDC_ISSUER: /)],
      }),
    );
  });

  it.each<[string, Record<string, string>, string[]]>([
    [
      'nothing configured',
      {},
      [
        'no intake authentication: set INTAKE_TOKEN and/or INTAKE_OIDC_ISSUER with INTAKE_OIDC_AUDIENCE, ' +
          'or INTAKE_AUTH_DISABLED=true to accept unauthenticated events',
      ],
    ],
    [
      'an issuer without audience',
      { INTAKE_OIDC_ISSUER: 'https://kubernetes.default.svc' },
      ['INTAKE_OIDC_AUDIENCE: required when INTAKE_OIDC_ISSUER is set'],
    ],
    [
      'OIDC settings without an issuer, next to a token',
      { INTAKE_TOKEN: SECRET, INTAKE_OIDC_AUDIENCE: AUDIENCE, INTAKE_OIDC_JWKS_URL: 'https://x/jwks' },
      ['INTAKE_OIDC_AUDIENCE: needs INTAKE_OIDC_ISSUER', 'INTAKE_OIDC_JWKS_URL: needs INTAKE_OIDC_ISSUER'],
    ],
    [
      'disabled while a token is set',
      { INTAKE_AUTH_DISABLED: 'true', INTAKE_TOKEN: SECRET },
      ['INTAKE_AUTH_DISABLED: true while INTAKE_TOKEN or INTAKE_OIDC_ISSUER is set; unset one'],
    ],
  ])('%s → ConfigError naming the variables', (_name, env, expected) => {
    expect(problems(env)).toEqual(expected);
  });

  it('reports an unreadable or empty JWKS token file', () => {
    const env = {
      INTAKE_OIDC_ISSUER: 'https://kubernetes.default.svc',
      INTAKE_OIDC_AUDIENCE: AUDIENCE,
      INTAKE_OIDC_JWKS_TOKEN_FILE: '/sa/token',
    };
    expect(
      problems(env, () => {
        throw new Error("ENOENT: no such file or directory, open '/sa/token'");
      }),
    ).toEqual([
      "INTAKE_OIDC_JWKS_TOKEN_FILE: cannot read /sa/token: ENOENT: no such file or directory, open '/sa/token'",
    ]);
    expect(problems(env, () => '\n')).toEqual(['INTAKE_OIDC_JWKS_TOKEN_FILE: /sa/token is empty']);
  });

  it('INTAKE_AUTH_DISABLED=true alone opens the intake', async () => {
    await expect(
      verifierFromConfig(parse({ INTAKE_AUTH_DISABLED: 'true' }))(undefined),
    ).resolves.toBeUndefined();
  });

  it('INTAKE_TOKEN alone: the secret is accepted, anything else refused', async () => {
    const verify = verifierFromConfig(parse({ INTAKE_TOKEN: SECRET }));
    await expect(verify(`Bearer ${SECRET}`)).resolves.toBeUndefined();
    expect(await refusal(verify, 'Bearer wrong')).toEqual(
      refused('bearer token does not match the intake secret'),
    );
  });

  it('OIDC with a token file: the file token (reread per request) goes to the issuer', async () => {
    const reads: string[] = [];
    const verify = verifierFromConfig(
      parse({
        INTAKE_OIDC_ISSUER: issuer.url,
        INTAKE_OIDC_AUDIENCE: AUDIENCE,
        INTAKE_OIDC_JWKS_TOKEN_FILE: '/sa/token',
      }),
      (path) => {
        reads.push(path);
        return `sa-token-${reads.length}\n`;
      },
    );
    await expect(verify(`Bearer ${await token(rsa)}`)).resolves.toBeUndefined();
    expect(await refusal(verify, `Bearer ${await token(rsa, { aud: 'other' })}`)).toEqual(
      refused('JWT invalid: unexpected "aud" claim value'),
    );
    expect(issuer.seen).toEqual([
      { path: DISCOVERY, authorization: 'Bearer sa-token-2' },
      { path: JWKS, authorization: 'Bearer sa-token-3' },
    ]);
    expect(reads).toEqual(['/sa/token', '/sa/token', '/sa/token']);
  });
});
