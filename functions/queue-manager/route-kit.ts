/**
 * What every read route of the manager shares (series-routes.ts, analytics-routes.ts,
 * chart-routes.ts): the error body and the responses besides a route's own, store failures as
 * 503, and invalid parameters as 400 with the zod issues (docs/api.md "Errors").
 */
import { z } from '@hono/zod-openapi';
import { AppError, DependencyError, InvalidInputError } from '../../shared/runtime/errors.ts';

export const ErrorBody = z
  .object({ error: z.string(), issues: z.array(z.unknown()).optional() })
  .openapi('Error');

export const error = (description: string) => ({
  description,
  content: { 'application/json': { schema: ErrorBody } },
});

/** What every read route can answer besides its own: the reads token (when required) and the store. */
export const common = {
  401: error('Missing or wrong bearer token (only when the manager requires it for reads: API_TOKEN_READS)'),
  503: error('Store unavailable'),
};

export const ok = <S extends z.ZodType>(schema: S, description: string) => ({
  200: { description, content: { 'application/json': { schema } } },
});

/** Store failures are a dependency being down (503), not a bug in the request. */
export async function fromStore<T>(p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (err) {
    if (err instanceof AppError) throw err;
    throw new DependencyError('store unavailable', err);
  }
}

/** Invalid parameters answer 400 with the zod issues (the app's error handler maps the error). */
export function rejectInvalid(
  result: { success: true } | { success: false; error: z.ZodError; target: string },
): undefined {
  if (!result.success) throw InvalidInputError.fromZod(`invalid request ${result.target}`, result.error);
  return undefined;
}
