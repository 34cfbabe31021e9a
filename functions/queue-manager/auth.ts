/**
 * Bearer-token check: with a token configured, mutating requests need `Authorization: Bearer
 * <token>`; reads need it too only when `reads` is set. The CloudEvent intake (POST /) is not
 * this token's: its senders are checked by shared/runtime/intake-auth.ts (docs/api.md).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import { UnauthorizedError } from '../../shared/runtime/errors.ts';

const digest = (s: string) => createHash('sha256').update(s).digest();

export function bearerAuth(opts: { token?: string | undefined; reads: boolean }): MiddlewareHandler {
  const want = opts.token === undefined ? undefined : digest(opts.token);
  return async (c, next) => {
    const read = c.req.method === 'GET' || c.req.method === 'HEAD';
    if (want && (!read || opts.reads)) {
      const m = /^Bearer\s+(\S+)\s*$/i.exec(c.req.header('authorization') ?? '');
      // Compare digests: equal length, so the comparison time says nothing about the token.
      if (!m?.[1] || !timingSafeEqual(digest(m[1]), want)) {
        c.header('WWW-Authenticate', 'Bearer realm="streamforge"');
        throw new UnauthorizedError();
      }
    }
    await next();
  };
}
