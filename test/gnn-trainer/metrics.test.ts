/**
 * Scores of the GNN and its baselines (shared/analytics/gnn/metrics.ts): the Wilson interval, rank
 * correlation, and the block bootstrap — whole decision times are resampled, so copies of one
 * prediction across assets at a time add no false confidence.
 */
import { describe, expect, it } from 'vitest';
import { compare, ranks, scoreModel, wilson, type Scored } from '../../shared/analytics/gnn/metrics.ts';
import { mulberry32 } from '../../shared/analytics/gnn/random.ts';

/** `times` decision times × `copies` assets; model A is right with probability pa, B with pb. */
function pair(times: number, copies: number, pa: number, pb: number, seed = 1): [Scored, Scored] {
  const rand = mulberry32(seed);
  const rows = times * copies;
  const time = new Int32Array(rows);
  const y = new Uint8Array(rows);
  const next = new Float64Array(rows);
  const a = new Float64Array(rows);
  const b = new Float64Array(rows);
  for (let t = 0; t < times; t++) {
    const up = rand() < 0.5 ? 1 : 0;
    const ra = rand() < pa;
    const rb = rand() < pb;
    const size = 0.5 + rand();
    for (let c = 0; c < copies; c++) {
      const j = t * copies + c;
      time[j] = t;
      y[j] = up;
      next[j] = (up ? 1 : -1) * size * (1 + c);
      a[j] = ra === (up === 1) ? 0.7 : 0.3;
      b[j] = rb === (up === 1) ? 0.6 : 0.4;
    }
  }
  return [
    { time, y, next, p: a },
    { time, y, next, p: b },
  ];
}

describe('wilson', () => {
  it('matches published values', () => {
    const [lo, hi] = wilson(50, 100);
    expect(lo).toBeCloseTo(0.4038, 4);
    expect(hi).toBeCloseTo(0.5962, 4);
    const [lo0, hi0] = wilson(0, 10);
    expect(lo0).toBe(0);
    expect(hi0).toBeCloseTo(0.2775, 4);
  });
});

describe('ranks', () => {
  it('gives ties their average rank', () => {
    expect(Array.from(ranks([3, 1, 3, 2]))).toEqual([3.5, 1, 3.5, 2]);
  });
});

describe('scoreModel', () => {
  const [a] = pair(400, 3, 0.6, 0.5);

  it('scores accuracy, log loss and IC with intervals around them', () => {
    const m = scoreModel(a);
    expect(m.n).toBe(1200);
    expect(m.accuracy).toBeGreaterThan(0.55);
    expect(m.accuracy).toBeLessThan(0.65);
    expect(m.accuracy_ci[0]).toBeLessThan(m.accuracy);
    expect(m.accuracy_ci[1]).toBeGreaterThan(m.accuracy);
    expect(m.log_loss_ci[0]).toBeLessThan(m.log_loss);
    expect(m.log_loss_ci[1]).toBeGreaterThan(m.log_loss);
    expect(m.ic).toBeGreaterThan(0.1);
    expect(m.ic_ci[0]).toBeLessThan(m.ic);
    expect(m.ic_ci[1]).toBeGreaterThan(m.ic);
  });

  it('a perfect ranking has IC 1; constant predictions have IC 0 (undefined), not NaN', () => {
    expect(scoreModel({ ...a, p: Float64Array.from(a.next) }).ic).toBeCloseTo(1, 12);
    expect(scoreModel({ ...a, p: new Float64Array(a.p.length).fill(0.5) }).ic).toBe(0);
  });

  it('is reproducible in its seed', () => {
    expect(scoreModel(a, { seed: 3 })).toEqual(scoreModel(a, { seed: 3 }));
    expect(scoreModel(a, { seed: 3 }).log_loss_ci).not.toEqual(scoreModel(a, { seed: 4 }).log_loss_ci);
  });
});

describe('compare', () => {
  it('finds a real 10-point gain, and no gain between a model and itself', () => {
    const [a, b] = pair(2000, 2, 0.6, 0.5);
    const c = compare('b', a, b);
    expect(c.accuracy_diff).toBeGreaterThan(0.06);
    expect(c.accuracy_diff_ci[0]).toBeGreaterThan(0);
    expect(c.log_loss_diff).toBeLessThan(0);
    const same = compare('a', a, a);
    expect(same.accuracy_diff).toBe(0);
    expect(same.accuracy_diff_ci).toEqual([0, 0]);
  });

  it('resamples whole decision times: copying every prediction across 10 assets leaves the interval as it was', () => {
    const [a1, b1] = pair(300, 1, 0.55, 0.5, 9);
    const [a10, b10] = pair(300, 10, 0.55, 0.5, 9);
    const one = compare('b', a1, b1);
    const ten = compare('b', a10, b10);
    expect(ten.accuracy_diff).toBeCloseTo(one.accuracy_diff, 12);
    expect(ten.accuracy_diff_ci[0]).toBeCloseTo(one.accuracy_diff_ci[0], 12);
    expect(ten.accuracy_diff_ci[1]).toBeCloseTo(one.accuracy_diff_ci[1], 12);
  });

  it('refuses predictions of different rows', () => {
    const [a] = pair(10, 2, 0.5, 0.5);
    const [, b] = pair(11, 2, 0.5, 0.5);
    expect(() => compare('b', a, b)).toThrow(/different predictions/);
  });
});
