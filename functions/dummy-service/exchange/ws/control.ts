/**
 * Control messages (JSON text frames, binance.md §4): SUBSCRIBE, UNSUBSCRIBE, LIST_SUBSCRIPTIONS,
 * SET_PROPERTY / GET_PROPERTY `combined`. Replies `{"result":…,"id":…}`; errors
 * `{"error":{"code":N,"msg":"…"},"id":…}` with code 0 unknown property, 1 bad value type,
 * 2 invalid request (unknown stream or symbol, too many streams, bad params), 3 invalid JSON.
 * A SUBSCRIBE that fails subscribes nothing.
 */
import type { Conn } from './connection.ts';
import type { StreamSpec } from './streams.ts';

export interface ControlContext {
  conn: Conn;
  /** A stream name of the connection's market → spec, or the error message. */
  parse(name: string): StreamSpec | string;
  subscribe(specs: StreamSpec[]): void;
  unsubscribe(names: string[]): void;
}

type Id = number | string | null;
type Reply = { result: unknown; id: Id } | { error: { code: number; msg: string }; id: Id };

const fail = (code: number, msg: string, id: Id): Reply => ({ error: { code, msg }, id });

const validId = (v: unknown): v is Id =>
  v === null ||
  (typeof v === 'number' && Number.isSafeInteger(v)) ||
  (typeof v === 'string' && /^[A-Za-z0-9_-]{1,36}$/.test(v));

const names = (params: unknown): string[] | undefined =>
  Array.isArray(params) && params.every((p) => typeof p === 'string') ? params : undefined;

export function handleControl(text: string, ctx: ControlContext): Reply {
  let msg: unknown;
  try {
    msg = JSON.parse(text);
  } catch (e) {
    return fail(3, `Invalid JSON: ${(e as Error).message}`, null);
  }
  if (typeof msg !== 'object' || msg === null || Array.isArray(msg))
    return fail(2, 'Invalid request: expected a JSON object', null);
  const { method, params, id: rawId = null } = msg as Record<string, unknown>;
  if (!validId(rawId))
    return fail(2, "Invalid request: 'id' must be an integer, an alphanumeric string (≤ 36) or null", null);
  const id = rawId;
  const { conn } = ctx;
  switch (method) {
    case 'SUBSCRIBE': {
      const list = names(params);
      if (!list) return fail(2, "Invalid request: 'params' must be an array of stream names", id);
      const specs: StreamSpec[] = [];
      for (const name of list) {
        const spec = ctx.parse(name);
        if (typeof spec === 'string') return fail(2, spec, id);
        specs.push(spec);
      }
      const total = new Set([...conn.streams.keys(), ...list]).size;
      if (total > conn.limits.maxStreams)
        return fail(
          2,
          `Invalid request: too many streams (${total} > ${conn.limits.maxStreams} per connection)`,
          id,
        );
      ctx.subscribe(specs);
      return { result: null, id };
    }
    case 'UNSUBSCRIBE': {
      const list = names(params);
      if (!list) return fail(2, "Invalid request: 'params' must be an array of stream names", id);
      ctx.unsubscribe(list);
      return { result: null, id };
    }
    case 'LIST_SUBSCRIPTIONS':
      return { result: [...conn.streams.keys()], id };
    case 'SET_PROPERTY':
    case 'GET_PROPERTY': {
      const [name, value] = Array.isArray(params) ? (params as unknown[]) : [];
      if (name !== 'combined') return fail(0, `Unknown property: ${String(name)}`, id);
      if (method === 'GET_PROPERTY') return { result: conn.combined, id };
      if (typeof value !== 'boolean') return fail(1, 'Invalid value type: expected Boolean', id);
      conn.combined = value;
      return { result: null, id };
    }
    default:
      return fail(2, `Invalid request: unknown method '${String(method)}'`, id);
  }
}
