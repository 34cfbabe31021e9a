/**
 * Small numeric helpers of the graph-builder, hand-written so the statistics behind every edge are
 * in plain sight (no numeric dependency): Pearson and Spearman correlations over pairwise-complete
 * observations (NaN = missing), Fisher-z p-values of (partial) correlations, Benjamini–Hochberg
 * selection, and partial correlations from a ridge-stabilised precision matrix.
 *
 * These are pure math: misuse (arrays of different lengths, a non-square matrix) is a programming
 * error and throws a RangeError; input validation with InvalidInputError happens in compute.ts.
 */

/** A dense square matrix, one Float64Array per row. */
export type Matrix = Float64Array[];

export interface Correlation {
  /** The coefficient, or NaN when undefined (fewer than 2 pairs, or a constant series). */
  r: number;
  /** Pairs used: indices where both values are finite. */
  n: number;
}

function sameLength(x: ArrayLike<number>, y: ArrayLike<number>): void {
  if (x.length !== y.length) throw new RangeError(`series of different lengths: ${x.length} and ${y.length}`);
}

/** Pearson correlation over the pairs where both x[i] and y[i] are finite (two passes: centred sums). */
export function pearson(x: ArrayLike<number>, y: ArrayLike<number>): Correlation {
  sameLength(x, y);
  let n = 0;
  let sx = 0;
  let sy = 0;
  for (let i = 0; i < x.length; i++) {
    const a = x[i]!;
    const b = y[i]!;
    if (Number.isFinite(a) && Number.isFinite(b)) {
      n++;
      sx += a;
      sy += b;
    }
  }
  if (n < 2) return { r: NaN, n };
  const mx = sx / n;
  const my = sy / n;
  let sxx = 0;
  let syy = 0;
  let sxy = 0;
  for (let i = 0; i < x.length; i++) {
    const a = x[i]!;
    const b = y[i]!;
    if (Number.isFinite(a) && Number.isFinite(b)) {
      const da = a - mx;
      const db = b - my;
      sxx += da * da;
      syy += db * db;
      sxy += da * db;
    }
  }
  if (!(sxx > 0 && syy > 0)) return { r: NaN, n };
  return { r: clampUnit(sxy / Math.sqrt(sxx * syy)), n };
}

/** Ranks 1..n of the finite values, ties sharing their average rank; NaN stays NaN. */
export function ranks(x: ArrayLike<number>): Float64Array {
  const out = new Float64Array(x.length).fill(NaN);
  const idx: number[] = [];
  for (let i = 0; i < x.length; i++) if (Number.isFinite(x[i]!)) idx.push(i);
  idx.sort((a, b) => x[a]! - x[b]!);
  for (let lo = 0; lo < idx.length;) {
    let hi = lo + 1;
    while (hi < idx.length && x[idx[hi]!] === x[idx[lo]!]) hi++;
    // Positions lo..hi−1 hold equal values: ranks lo+1..hi, average (lo + 1 + hi) / 2.
    const rank = (lo + 1 + hi) / 2;
    for (let k = lo; k < hi; k++) out[idx[k]!] = rank;
    lo = hi;
  }
  return out;
}

/** Spearman's rho: Pearson of the ranks, ranked after dropping the pairs where either value is missing. */
export function spearman(x: ArrayLike<number>, y: ArrayLike<number>): Correlation {
  sameLength(x, y);
  const a: number[] = [];
  const b: number[] = [];
  for (let i = 0; i < x.length; i++) {
    if (Number.isFinite(x[i]!) && Number.isFinite(y[i]!)) {
      a.push(x[i]!);
      b.push(y[i]!);
    }
  }
  return pearson(ranks(a), ranks(b));
}

// W. J. Cody, "Rational Chebyshev approximations for the error function", Math. Comp. 23 (1969)
// 631–638, as in netlib specfun CALERF (its 18-digit coefficients, rounded to doubles): relative
// error near 1e-16 over the double range; the tests check 1e-13 against reference values.
const ERF_A = [
  3.1611237438705655, 113.86415415105016, 377.485237685302, 3209.3775891384694, 0.18577770618460315,
];
const ERF_B = [23.601290952344122, 244.02463793444417, 1282.6165260773723, 2844.236833439171];
const ERFC_C = [
  0.5641884969886701, 8.883149794388377, 66.11919063714163, 298.6351381974001, 881.952221241769,
  1712.0476126340707, 2051.0783778260716, 1230.3393547979972, 2.1531153547440383e-8,
];
const ERFC_D = [
  15.744926110709835, 117.6939508913125, 537.1811018620099, 1621.3895745666903, 3290.7992357334597,
  4362.619090143247, 3439.3676741437216, 1230.3393548037495,
];
const ERFC_P = [
  0.30532663496123236, 0.36034489994980445, 0.12578172611122926, 0.016083785148742275, 0.0006587491615298378,
  0.016315387137302097,
];
const ERFC_Q = [
  2.568520192289822, 1.8729528499234604, 0.5279051029514285, 0.06051834131244132, 0.0023352049762686918,
];
const INV_SQRT_PI = 0.5641895835477563;

/** exp(−y²) computed as exp(−a²)·exp(−(y−a)(y+a)) with a = y rounded down to 1/16: no cancellation. */
function expMinusSquare(y: number): number {
  const a = Math.trunc(y * 16) / 16;
  return Math.exp(-a * a) * Math.exp(-(y - a) * (y + a));
}

/** The complementary error function erfc(x) = 1 − erf(x), accurate in relative terms in both tails. */
export function erfc(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const y = Math.abs(x);
  let result: number;
  if (y <= 0.46875) {
    const ysq = y * y;
    let num = ERF_A[4]! * ysq;
    let den = ysq;
    for (let i = 0; i < 3; i++) {
      num = (num + ERF_A[i]!) * ysq;
      den = (den + ERF_B[i]!) * ysq;
    }
    return 1 - (x * (num + ERF_A[3]!)) / (den + ERF_B[3]!);
  } else if (y <= 4) {
    let num = ERFC_C[8]! * y;
    let den = y;
    for (let i = 0; i < 7; i++) {
      num = (num + ERFC_C[i]!) * y;
      den = (den + ERFC_D[i]!) * y;
    }
    result = (expMinusSquare(y) * (num + ERFC_C[7]!)) / (den + ERFC_D[7]!);
  } else if (y >= 26.543) {
    result = 0; // below the smallest double
  } else {
    const ysq = 1 / (y * y);
    let num = ERFC_P[5]! * ysq;
    let den = ysq;
    for (let i = 0; i < 4; i++) {
      num = (num + ERFC_P[i]!) * ysq;
      den = (den + ERFC_Q[i]!) * ysq;
    }
    result = (ysq * (num + ERFC_P[4]!)) / (den + ERFC_Q[4]!);
    result = (expMinusSquare(y) * (INV_SQRT_PI - result)) / y;
  }
  return x < 0 ? 2 - result : result;
}

/** The standard normal distribution function Φ(z). */
export function normalCdf(z: number): number {
  return 0.5 * erfc(-z / Math.SQRT2);
}

/**
 * Two-sided p-value of a correlation r over n pairs, controlling for k other variables (a partial
 * correlation), by Fisher's z: z = atanh(r)·√(n − 3 − k), p = 2(1 − Φ(|z|)) = erfc(|z|/√2).
 * 1 when there are too few pairs (n − 3 − k ≤ 0) or r is undefined.
 */
export function fisherP(r: number, n: number, k = 0): number {
  const dof = n - 3 - k;
  if (dof <= 0 || !Number.isFinite(r)) return 1;
  const z = Math.atanh(Math.min(1, Math.abs(r))) * Math.sqrt(dof);
  return Math.min(1, erfc(z / Math.SQRT2));
}

/**
 * Benjamini–Hochberg at false-discovery rate alpha: with p sorted, the largest k such that
 * p_(k) ≤ k·alpha/m, and every test with rank ≤ k is a discovery. NaN p-values are never discoveries
 * (they still count in m).
 */
export function benjaminiHochberg(pvalues: ArrayLike<number>, alpha: number): boolean[] {
  const m = pvalues.length;
  const order = Array.from({ length: m }, (_, i) => i)
    .filter((i) => !Number.isNaN(pvalues[i]!))
    .sort((a, b) => pvalues[a]! - pvalues[b]!);
  let cut = 0;
  for (let k = order.length; k >= 1; k--) {
    if (pvalues[order[k - 1]!]! <= (k * alpha) / m) {
      cut = k;
      break;
    }
  }
  const out = new Array<boolean>(m).fill(false);
  for (let k = 0; k < cut; k++) out[order[k]!] = true;
  return out;
}

/**
 * The inverse of a square (symmetric) matrix by Gauss–Jordan elimination with partial pivoting;
 * throws a RangeError when a pivot vanishes (a singular matrix).
 */
export function invertSymmetric(matrix: readonly ArrayLike<number>[]): Matrix {
  const n = matrix.length;
  const a: Matrix = matrix.map((row) => {
    if (row.length !== n) throw new RangeError(`not a square matrix: a row of ${row.length} in ${n} rows`);
    return Float64Array.from(row);
  });
  const inv: Matrix = Array.from({ length: n }, (_, i) => {
    const row = new Float64Array(n);
    row[i] = 1;
    return row;
  });
  let scale = 0;
  for (const row of a) for (let j = 0; j < n; j++) scale = Math.max(scale, Math.abs(row[j]!));
  for (let col = 0; col < n; col++) {
    let pivot = col;
    for (let r = col + 1; r < n; r++) if (Math.abs(a[r]![col]!) > Math.abs(a[pivot]![col]!)) pivot = r;
    const pv = a[pivot]![col]!;
    if (!(Math.abs(pv) > scale * 1e-14))
      throw new RangeError(`singular matrix (pivot ${pv} in column ${col})`);
    if (pivot !== col) {
      [a[pivot], a[col]] = [a[col]!, a[pivot]!];
      [inv[pivot], inv[col]] = [inv[col]!, inv[pivot]!];
    }
    const ar = a[col]!;
    const ir = inv[col]!;
    for (let j = 0; j < n; j++) {
      ar[j] = ar[j]! / pv;
      ir[j] = ir[j]! / pv;
    }
    for (let r = 0; r < n; r++) {
      if (r === col) continue;
      const f = a[r]![col]!;
      if (f === 0) continue;
      const a2 = a[r]!;
      const i2 = inv[r]!;
      for (let j = 0; j < n; j++) {
        a2[j] = a2[j]! - f * ar[j]!;
        i2[j] = i2[j]! - f * ir[j]!;
      }
    }
  }
  return inv;
}

/**
 * Partial correlations of every pair given all the other variables, from the precision matrix
 * P = (C + λI)⁻¹: ρ_ij = −P_ij / √(P_ii·P_jj), with λ = ridge·trace(C)/N so that a near-singular C
 * (more series than observations, collinear series) still inverts. Diagonal = 1. NaN where
 * P_ii·P_jj ≤ 0 (an indefinite pairwise-complete C).
 */
export function partialCorrelations(corrMatrix: readonly ArrayLike<number>[], ridge = 1e-6): Matrix {
  const n = corrMatrix.length;
  let trace = 0;
  for (let i = 0; i < n; i++) trace += corrMatrix[i]![i]!;
  const lambda = (ridge * trace) / n;
  const p = invertSymmetric(
    corrMatrix.map((row, i) => {
      const copy = Float64Array.from(row);
      copy[i] = copy[i]! + lambda;
      return copy;
    }),
  );
  const out: Matrix = Array.from({ length: n }, () => new Float64Array(n));
  for (let i = 0; i < n; i++) {
    out[i]![i] = 1;
    for (let j = i + 1; j < n; j++) {
      // P is symmetric up to rounding: average both halves so that ρ_ij = ρ_ji exactly.
      const pij = (p[i]![j]! + p[j]![i]!) / 2;
      const d = p[i]![i]! * p[j]![j]!;
      out[i]![j] = out[j]![i] = d > 0 ? clampUnit(-pij / Math.sqrt(d)) : NaN;
    }
  }
  return out;
}

/** Rounding can push a correlation a hair past ±1. */
export function clampUnit(r: number): number {
  return r > 1 ? 1 : r < -1 ? -1 : r;
}
