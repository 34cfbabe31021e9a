/**
 * A fast path for validating rows one by one (rows.ts), derived from their zod schemas, which
 * stay the source of truth (DESIGN.md "Contracts"). zod runs every element through its check
 * machinery (a payload and an issue list per element, each check a call); a data batch carries
 * up to 1000 rows, so the sink spent most of its own CPU there.
 *
 * `compileTupleCheck(elements)` reads the schemas' definitions once and compiles a predicate, the
 * way zod compiles its own object parser (schemas.js `$ZodObjectJIT`). It only answers "zod
 * accepts this unchanged"; for anything else, and wherever a schema part is not understood
 * (refinements, transforms, defaults, nested arrays, other checks), the caller asks zod, so
 * rejections keep zod's own issues. Understood: string (regex checks), number (int, >, >=, <,
 * <=), boolean, enum and literal elements, each possibly nullable. test/contracts/fast-parse.test.ts
 * compares it with zod over every record kind's rows and many mutated inputs.
 */
import { z } from 'zod';

/** The parts of zod's definitions read here (zod/v4/core schemas.d.ts, checks.d.ts). */
interface Def {
  type: string;
  check?: string;
  coerce?: boolean;
  checks?: { _zod: { def: CheckDef } }[];
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
