import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import {
  WsAggTradeEvent,
  WsBookTickerEvent,
  WsCombinedFrame,
  WsDepthUpdateEvent,
  WsKlineEvent,
  WsTradeEvent,
} from '../../shared/contracts/binance.ts';
import { fixture, fixtureLines } from './fixtures.ts';

/** Picks the schema for a combined-stream frame from its stream name (binance.md §4). */
function schemaForStream(stream: string): { kind: string; schema: z.ZodType } {
  const [, channel = ''] = stream.split('@', 2);
  if (channel === 'depth' || channel.startsWith('depth@'))
    return { kind: 'depthUpdate', schema: WsDepthUpdateEvent };
  if (channel === 'bookTicker') return { kind: 'bookTicker', schema: WsBookTickerEvent };
  if (channel.startsWith('kline_')) return { kind: 'kline', schema: WsKlineEvent };
  if (channel === 'aggTrade') return { kind: 'aggTrade', schema: WsAggTradeEvent };
  if (channel === 'trade') return { kind: 'trade', schema: WsTradeEvent };
  throw new Error(`no schema for stream ${stream}`);
}

const captures = [
  { file: 'ws/spot_combined_capture_2021-10-11.jsonl', usdm: false },
  { file: 'ws/futures_um_combined_capture_2021-07-22.head400.jsonl', usdm: true },
];

describe('WebSocket captures: every frame parses with the schema its stream names', () => {
  for (const { file, usdm } of captures) {
    it(file, () => {
      const frames = fixtureLines(file);
      expect(frames.length).toBeGreaterThan(0);
      const kinds = new Map<string, number>();
      for (const [line, raw] of frames.entries()) {
        const frame = WsCombinedFrame.parse(raw);
        const { kind, schema } = schemaForStream(frame.stream);
        const r = schema.safeParse(frame.data);
        if (!r.success)
          throw new Error(`${file}:${line + 1} (${frame.stream}): ${JSON.stringify(r.error.issues)}`);
        const data = r.data as { s: string; e?: string; k?: { i: string }; pu?: number };
        // The frame's symbol is the stream's symbol, and kline frames carry the stream's interval.
        expect(data.s.toLowerCase()).toBe(frame.stream.split('@')[0]);
        if (data.e !== undefined) expect(data.e).toBe(kind);
        if (kind === 'kline') expect(`kline_${data.k?.i}`).toBe(frame.stream.split('@')[1]);
        if (kind === 'depthUpdate') expect(data.pu !== undefined).toBe(usdm);
        kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
      }
      expect([...kinds.keys()].sort()).toEqual(['aggTrade', 'bookTicker', 'depthUpdate', 'kline']);
    });
  }

  it('spot depth diffs are contiguous per symbol (U = previous u + 1)', () => {
    const last = new Map<string, number>();
    for (const raw of fixtureLines(captures[0]!.file)) {
      const frame = WsCombinedFrame.parse(raw);
      if (!frame.stream.includes('@depth')) continue;
      const d = WsDepthUpdateEvent.parse(frame.data);
      const prev = last.get(d.s);
      if (prev !== undefined) expect(d.U).toBe(prev + 1);
      last.set(d.s, d.u);
    }
    expect(last.size).toBeGreaterThan(0);
  });

  it('USD-M depth diffs chain through pu (pu = previous u)', () => {
    const last = new Map<string, number>();
    for (const raw of fixtureLines(captures[1]!.file)) {
      const frame = WsCombinedFrame.parse(raw);
      if (!frame.stream.includes('@depth')) continue;
      const d = WsDepthUpdateEvent.parse(frame.data);
      const prev = last.get(d.s);
      if (prev !== undefined) expect(d.pu).toBe(prev);
      last.set(d.s, d.u);
    }
    expect(last.size).toBeGreaterThan(0);
  });

  it('spot bookTicker has no event type or time; USD-M has both', () => {
    const spot = fixtureLines(captures[0]!.file)
      .map((f) => WsCombinedFrame.parse(f))
      .find((f) => f.stream.endsWith('@bookTicker'));
    const usdm = fixtureLines(captures[1]!.file)
      .map((f) => WsCombinedFrame.parse(f))
      .find((f) => f.stream.endsWith('@bookTicker'));
    expect(WsBookTickerEvent.parse(spot?.data)).not.toHaveProperty('E');
    expect(WsBookTickerEvent.parse(usdm?.data)).toMatchObject({
      e: 'bookTicker',
      E: expect.any(Number) as number,
    });
  });
});

describe('single WebSocket frames', () => {
  it('the legacy trade event with b/a parses, and b/a are not carried on', () => {
    const frame = WsCombinedFrame.parse(
      fixture('ws/spot_trade_event_ETHUSDT_2021-12-12_legacy_with_b_a.json'),
    );
    expect(frame.stream).toBe('ethusdt@trade');
    const t = WsTradeEvent.parse(frame.data);
    expect(t).toMatchObject({ e: 'trade', s: 'ETHUSDT', t: 705291099, p: '4149.74000000', m: true });
    expect(t).not.toHaveProperty('b');
    expect(t).not.toHaveProperty('a');
  });

  it('the spot aggTrade event parses', () => {
    const frame = WsCombinedFrame.parse(fixture('ws/spot_aggTrade_event_ETHUSDT_2023-02-07.json'));
    expect(WsAggTradeEvent.parse(frame.data)).toMatchObject({ a: 226532, M: true });
  });

  it('the spot docs examples parse (trade, aggTrade, kline, bookTicker, depthUpdate)', () => {
    const docs = fixture('docs/spot_ws_streams_examples.json') as Record<string, unknown>;
    expect(WsTradeEvent.safeParse(docs['trade']).success).toBe(true);
    expect(WsAggTradeEvent.safeParse(docs['aggTrade']).success).toBe(true);
    expect(WsKlineEvent.safeParse(docs['kline']).success).toBe(true);
    expect(WsBookTickerEvent.safeParse(docs['bookTicker']).success).toBe(true);
    expect(WsDepthUpdateEvent.safeParse(docs['depthUpdate']).success).toBe(true);
  });
});
