/**
 * Binance decimal strings from integer units, exactly (no float rounding): spot prints 8 decimals
 * for every price and quantity ("0.02345000", "60685.22000000"); USD-M prints the symbol's own
 * precision ("34287.54", "0.001").
 */
import type { SymbolSpec } from './config.ts';

export type Fixed = (v: number | bigint) => string;

/** Formats integers with `implied` decimals as strings with `out` decimals (out ≥ implied). */
export function fixedFormat(implied: number, out: number): Fixed {
  const zeros = '0'.repeat(out - implied);
  const tail = out > 0 ? `.${zeros}` : '';
  const div = 10 ** implied;
  const pads = Array.from({ length: implied + 1 }, (_, n) => '0'.repeat(implied - n));
  const bigDiv = BigInt(div);
  return (v) => {
    const neg = v < 0;
    if (implied === 0) return `${neg ? '-' : ''}${neg ? -v : v}${tail}`;
    let int: number | bigint;
    let frac: string;
    if (typeof v === 'number') {
      // Arithmetic beats string slicing on the hot path; exact for |v| < 2^53.
      const a = neg ? -v : v;
      let i = Math.floor(a / div);
      if (i * div > a) i--;
      int = i;
      frac = String(a - i * div);
    } else {
      const a = neg ? -v : v;
      int = a / bigDiv;
      frac = (a % bigDiv).toString();
    }
    return `${neg ? '-' : ''}${int}.${pads[frac.length]}${frac}${zeros}`;
  };
}

/** One-off form of fixedFormat. */
export const fixed = (v: number | bigint, implied: number, out: number): string =>
  fixedFormat(implied, out)(v);

export interface Formatter {
  price: Fixed;
  qty: Fixed;
  quote: Fixed;
}

export function formatterFor(spec: SymbolSpec): Formatter {
  const pd = spec.priceDecimals;
  const qd = spec.qtyDecimals;
  const spot = spec.market === 'spot';
  return {
    price: fixedFormat(pd, spot ? 8 : pd),
    qty: fixedFormat(qd, spot ? 8 : qd),
    quote: fixedFormat(pd + qd, spot ? 8 : pd + qd),
  };
}
