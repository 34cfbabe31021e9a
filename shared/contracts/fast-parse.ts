/**
 * A fast path for validating records one by one, derived from their zod schemas, which stay the
 * source of truth (DESIGN.md "Contracts"). zod runs every field through its check machinery
 * (a payload and an issue list per field, each check a call), about 2-4 µs per 15-field kline;
 * data batches carry up to 1000 records, so the sink spent most of its own CPU there.
 *
 * `fastParser(schema)` reads the schema's definition once and compiles a predicate for it, the
 * way zod compiles its own object parser (schemas.js `$ZodObjectJIT`). The predicate only
 * answers "accepted, and here is exactly zod's output" (a fresh object with the schema's keys in
 * the schema's order, unknown keys stripped, so the stored JSON is byte-identical); for anything
 * else, and for any schema part it does not know (refinements, transforms, defaults, catchalls,
 * nested objects, other checks), it defers to `schema.safeParse`, so rejections keep zod's own
 * issues. Understood: objects of string (regex checks), number (int, >, >=, <, <=), boolean,
 * enum, literal fields, each possibly optional. test/contracts/fast-parse.test.ts
 * compares it with zod over every record kind and many mutated inputs.
 */
import { z } from 'zod';

/** What the compiled predicate returns: zod's output, or undefined for "ask zod". */
type Accept = (value: unknown) => Record<string, unknown> | undefined;

/** The parts of zod's definitions read here (zod/v4/core schemas.d.ts, checks.d.ts). */
interface Def {
  type: string;
  check?: string;
  coerce?: boolean;
  checks?: { _zod: { def: CheckDef } }[];
  shape?: Record<string, z.core.$ZodType>;
  catchall?: unknown;
  innerType?: z.core.$ZodType;
}
interface CheckDef {
  check: string;
  format?: string;
  pattern?: unknown;
  value?: unknown;
  inclusive?: boolean;
  when?: unknown;
}

const defOf = (s: z.core.$ZodType): Def => s._zod.def;

/**
 * A JS condition over the variable `v` that holds exactly when `schema` accepts `v` unchanged,
 * or undefined when this schema part is not understood. `bind` passes a value into the compiled
 * function and returns its name there (no data is ever written into the source).
 */
function condition(schema: z.core.$ZodType, v: string, bind: (x: unknown) => string): string | undefined {
  const def = defOf(schema);
  if (def.coerce === true) return undefined;
  // A format schema such as z.int() or z.email() is itself a check: its own def counts too.
  const checks = [
    ...(def.check === undefined ? [] : [def as CheckDef]),
    ...(def.checks ?? []).map((c) => c._zod.def),
  ];
  if (checks.some((c) => c.when !== undefined)) return undefined;
  switch (def.type) {
    case 'string': {
      const parts = [`typeof ${v} === "string"`];
      for (const c of checks) {
        const re = c.pattern;
        if (c.check !== 'string_format' || c.format !== 'regex' || !(re instanceof RegExp)) return undefined;
        if (re.global || re.sticky) return undefined; // stateful lastIndex: leave it to zod
        parts.push(`${bind(re)}.test(${v})`);
      }
      return parts.join(' && ');
    }
    case 'number': {
      // z.number() rejects NaN and ±Infinity; Number.isFinite says both.
      const parts = [`typeof ${v} === "number"`, `Number.isFinite(${v})`];
      for (const c of checks) {
        if (c.check === 'number_format' && c.format === 'safeint') parts.push(`Number.isSafeInteger(${v})`);
        else if (c.check === 'greater_than' && typeof c.value === 'number')
          parts.push(`${v} ${c.inclusive === true ? '>=' : '>'} ${bind(c.value)}`);
        else if (c.check === 'less_than' && typeof c.value === 'number')
          parts.push(`${v} ${c.inclusive === true ? '<=' : '<'} ${bind(c.value)}`);
        else return undefined;
      }
      return parts.join(' && ');
    }
    case 'nullable': {
      const inner = def.innerType === undefined ? undefined : condition(def.innerType, v, bind);
      return checks.length > 0 || inner === undefined ? undefined : `(${v} === null || (${inner}))`;
    }
    case 'boolean':
      return checks.length === 0 ? `typeof ${v} === "boolean"` : undefined;
    case 'enum':
    case 'literal': {
      // The very set zod tests membership in.
      const values = schema._zod.values;
      if (checks.length > 0 || values === undefined || values.has(undefined)) return undefined;
      return `${bind(values)}.has(${v})`;
    }
    default:
      return undefined;
  }
}

/**
 * Values bound into a compiled function by name (`bind`), and the function built from its body
 * over the argument `r`; undefined when code generation is disallowed
 * (--disallow-code-generation-from-strings). Only schema keys (JSON-quoted) and bound names ever
 * reach the source, never data.
 */
function compiler(): { bind: (x: unknown) => string; build: <F>(body: string) => F | undefined } {
  const names: string[] = [];
  const values: unknown[] = [];
  return {
    bind: (x) => {
      names.push(`b${names.length}`);
      values.push(x);
      return names[names.length - 1] as string;
    },
    build: <F>(body: string): F | undefined => {
      try {
        // eslint-disable-next-line @typescript-eslint/no-implied-eval
        const factory = new Function(...names, `return function compiled(r) {\n${body}\n};`) as (
          ...bound: unknown[]
        ) => F;
        return factory(...values);
      } catch {
        return undefined;
      }
    },
  };
}

/**
 * Compiles the predicate of an object schema: the value zod would output when it accepts the
 * input, undefined when it may not (then ask zod), or no predicate at all (undefined) when any
 * part of the schema is not understood.
 */
export function compileAcceptor(schema: z.core.$ZodType): Accept | undefined {
  const def = defOf(schema);
  if (def.type !== 'object' || def.catchall !== undefined || (def.checks ?? []).length > 0) return undefined;
  const shape = def.shape ?? {};
  if (Object.getOwnPropertySymbols(shape).length > 0) return undefined;
  const { bind, build } = compiler();
  const body = ['if (typeof r !== "object" || r === null || Array.isArray(r)) return undefined;'];
  // Output keys in shape order, as zod writes them: a literal for the leading required keys,
  // then assignments, optional keys only when present (`in`, as zod's own object parser does).
  const literal: string[] = [];
  const after: string[] = [];
  const keys = Object.keys(shape);
  for (const [i, key] of keys.entries()) {
    if (key === '__proto__') return undefined;
    const field = shape[key] as z.core.$ZodType;
    const k = JSON.stringify(key);
    const v = `v${i}`;
    const fdef = defOf(field);
    const optional = fdef.type === 'optional';
    // The understood inner types have no default (a defaulted schema substitutes values).
    const cond = condition(optional && fdef.innerType ? fdef.innerType : field, v, bind);
    if (cond === undefined) return undefined;
    body.push(`const ${v} = r[${k}];`);
    if (optional) {
      body.push(
        `const p${i} = ${k} in r;`,
        `if (p${i} && ${v} !== undefined && !(${cond})) return undefined;`,
      );
      after.push(`if (p${i}) o[${k}] = ${v};`);
    } else {
      body.push(`if (!(${cond})) return undefined;`);
      if (after.length === 0) literal.push(`${k}: ${v}`);
      else after.push(`o[${k}] = ${v};`);
    }
  }
  body.push(`const o = { ${literal.join(', ')} };`, ...after, 'return o;');
  return build<Accept>(body.join('\n'));
}

/**
 * Compiles a check of a tuple of `elements` (no rest): true exactly when zod's tuple of them
 * would accept the value unchanged; false means "ask zod" (it may still accept, e.g. a schema
 * part the compiler does not know, such as the depth levels). Undefined when no element is
 * understood, or code generation is disallowed. Rows are not copied: what passes is used as is.
 */
export function compileTupleCheck(
  elements: readonly z.core.$ZodType[],
): ((value: unknown) => boolean) | undefined {
  if (z.config().jitless === true) return undefined;
  const { bind, build } = compiler();
  const parts = ['Array.isArray(r)', `r.length === ${elements.length}`];
  let understood = 0;
  for (const [i, el] of elements.entries()) {
    const cond = condition(el, `r[${i}]`, bind);
    if (cond === undefined) return undefined;
    understood++;
    parts.push(`(${cond})`);
  }
  if (understood === 0) return undefined;
  return build<(value: unknown) => boolean>(`return ${parts.join(' && ')};`);
}

/**
 * `schema.safeParse` with a compiled fast path for the values it accepts: the same verdict, the
 * same output, and on rejection zod's own error. Schemas the compiler does not understand, and a
 * zod configured `jitless`, get plain `safeParse`.
 */
export function fastParser<T>(schema: z.ZodType<T>): (value: unknown) => z.ZodSafeParseResult<T> {
  const accept = z.config().jitless === true ? undefined : compileAcceptor(schema);
  if (accept === undefined) return (value) => schema.safeParse(value);
  return (value) => {
    const data = accept(value);
    return data === undefined ? schema.safeParse(value) : { success: true, data: data as T };
  };
}
