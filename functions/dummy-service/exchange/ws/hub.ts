/**
 * The live topics and who listens to them. One topic per (market, stream name), created on the
 * first subscription and removed with the last, so every subscriber of a stream receives the
 * same events (each serialised once). `tick` polls every topic and fans the events out, raw or
 * wrapped as `{"stream":…,"data":…}` per connection; the drop fault (by seed, stream and event
 * id) and the stall fault (nothing sent, events lost) apply here.
 */
import { hashKeys, hashString, unit } from '../prng.ts';
import type { MarketData } from '../market-data.ts';
import type { Conn } from './connection.ts';
import type { StreamKind, StreamSpec } from './streams.ts';
import { createTopic, type Topic } from './topics.ts';

interface Entry {
  topic: Topic;
  key: number;
  subs: Set<Conn>;
}

export interface TickCounters {
  sent: Record<StreamKind, number>;
  dropped: number;
}

export class Hub {
  private readonly topics = new Map<string, Entry>();

  constructor(
    private readonly data: MarketData,
    private readonly seed: number,
  ) {}

  get size(): number {
    return this.topics.size;
  }

  subscribe(conn: Conn, spec: StreamSpec, now: number): void {
    if (conn.streams.has(spec.name)) return;
    const id = `${spec.market}|${spec.name}`;
    let e = this.topics.get(id);
    if (!e) {
      e = { topic: createTopic(this.data, spec, now), key: hashString(id), subs: new Set() };
      this.topics.set(id, e);
    }
    e.subs.add(conn);
    conn.streams.set(spec.name, spec);
  }

  unsubscribe(conn: Conn, name: string): void {
    const spec = conn.streams.get(name);
    if (!spec) return;
    conn.streams.delete(name);
    const id = `${spec.market}|${name}`;
    const e = this.topics.get(id);
    e?.subs.delete(conn);
    if (e?.subs.size === 0) this.topics.delete(id);
  }

  removeConn(conn: Conn): void {
    for (const name of [...conn.streams.keys()]) this.unsubscribe(conn, name);
  }

  /** Arms the depthBreak fault on every depth topic; returns how many. */
  breakDepth(): number {
    let n = 0;
    for (const e of this.topics.values()) if (e.topic.breakNext()) n++;
    return n;
  }

  /** Polls every topic at exchange time `now`; sends unless `silent` (then the events are lost). */
  tick(now: number, silent: boolean, dropRate: number, c: TickCounters): void {
    for (const e of this.topics.values()) {
      const events = e.topic.poll(now);
      if (silent || events.length === 0) continue;
      const { name, kind } = e.topic.spec;
      const prefix = `{"stream":${JSON.stringify(name)},"data":`;
      for (const ev of events) {
        if (e.topic.droppable && dropRate > 0 && unit(hashKeys(this.seed, e.key, ev.id)) < dropRate) {
          c.dropped += e.subs.size;
          continue;
        }
        const raw = JSON.stringify(ev.payload);
        let combined: string | undefined;
        for (const conn of e.subs) {
          const ok = conn.combined ? conn.send((combined ??= `${prefix}${raw}}`)) : conn.send(raw);
          if (ok) c.sent[kind]++;
        }
      }
    }
  }
}
