/**
 * Counter-based randomness: every value is a pure function of (seed, keys), so any minute of any
 * series can be computed without generating what came before it (random access).
 * Only 32-bit integer arithmetic (Math.imul) feeds the hashes, so a seed gives the same data on
 * every machine.
 */

/** Mixes `x` into hash state `h` (murmur3 finaliser style). */
export function mix(h: number, x: number): number {
  let z = Math.imul(h ^ x, 0x9e3779b1);
  z ^= z >>> 15;
  z = Math.imul(z, 0x85ebca6b);
  z ^= z >>> 13;
  z = Math.imul(z, 0xc2b2ae35);
  z ^= z >>> 16;
  return z >>> 0;
}

/** Hash of two 32-bit keys (hot paths: no argument array). */
export function h2(a: number, b: number): number {
  return mix(mix(0x811c9dc5, a >>> 0), b >>> 0);
}

/** Hash of a key list; numbers beyond 32 bits are split so epoch milliseconds hash whole. */
export function hashKeys(...keys: number[]): number {
  let h = 0x811c9dc5;
  for (const k of keys) {
    h = mix(h, k >>> 0);
    if (k > 0xffffffff || k < 0) h = mix(h, Math.floor(k / 4294967296) >>> 0);
  }
  return h;
}

/** FNV-1a of a string, for symbols and stream names. */
export function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** Uniform in [0, 1) from a 32-bit hash. */
export const unit = (h: number): number => h / 4294967296;

/** A small sequential generator (splitmix32), re-seedable without allocation. */
export class Rng {
  private s = 0;
  constructor(seed = 0) {
    this.s = seed | 0;
  }
  seed(seed: number): this {
    this.s = seed | 0;
    return this;
  }
  /** Uniform in [0, 1). */
  next(): number {
    this.s = (this.s + 0x9e3779b9) | 0;
    let z = this.s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    z ^= z >>> 16;
    return (z >>> 0) / 4294967296;
  }
  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  /** Exponential with mean 1. */
  expo(): number {
    return -Math.log(1 - this.next());
  }
}

/**
 * Smooth value noise in [-1, 1] at lattice spacing `scale` (same unit as `t`): random values on
 * the lattice points, smoothstep-interpolated between them.
 */
export function valueNoise(key: number, t: number, scale: number): number {
  const x = t / scale;
  const i = Math.floor(x);
  const f = x - i;
  const a = h2(key, i) / 2147483648 - 1;
  const b = h2(key, i + 1) / 2147483648 - 1;
  const s = f * f * (3 - 2 * f);
  return a + (b - a) * s;
}

/**
 * Sum of value-noise octaves Σ amp·noise(t / scale). A class rather than a loop at the call site:
 * under tsx every call to an imported function goes through a getter, methods do not.
 */
export class NoiseSum {
  private readonly keys: Uint32Array;
  private readonly scales: Float64Array;
  private readonly amps: Float64Array;
  constructor(key: number, octaves: ReadonlyArray<readonly [scale: number, amp: number]>) {
    this.keys = Uint32Array.from(octaves, (_, k) => h2(key, k));
    this.scales = Float64Array.from(octaves, (o) => o[0]);
    this.amps = Float64Array.from(octaves, (o) => o[1]);
  }
  at(t: number): number {
    let sum = 0;
    for (let k = 0; k < this.keys.length; k++)
      sum += this.amps[k]! * valueNoise(this.keys[k]!, t, this.scales[k]!);
    return sum;
  }
}
