/**
 * A trade's quote quantity from its price and quantity strings, exactly (BigInt, no float): the
 * WebSocket trade event has no `quoteQty`, and the record must equal the one REST returns for the
 * same id so the two converge (docs/binance.md §2: spot prints 8 decimals, USD-M the symbol's own
 * precision, which for a product is the sum of the factors' decimals).
 */
function scaled(s: string): { v: bigint; d: number } {
  const dot = s.indexOf('.');
  if (dot < 0) return { v: BigInt(s), d: 0 };
  return { v: BigInt(s.slice(0, dot) + s.slice(dot + 1)), d: s.length - dot - 1 };
}

/** `p × q` with `decimals` digits after the point (truncated; spot products fit 8 exactly). */
export function decimalProduct(p: string, q: string, decimals?: number): string {
  const a = scaled(p);
  const b = scaled(q);
  let v = a.v * b.v;
  let d = a.d + b.d;
  const out = decimals ?? d;
  if (out < d) {
    v /= 10n ** BigInt(d - out);
    d = out;
  } else if (out > d) {
    v *= 10n ** BigInt(out - d);
    d = out;
  }
  const neg = v < 0n;
  const digits = (neg ? -v : v).toString().padStart(d + 1, '0');
  const int = digits.slice(0, digits.length - d);
  const frac = digits.slice(digits.length - d);
  return `${neg ? '-' : ''}${int}${d > 0 ? `.${frac}` : ''}`;
}
