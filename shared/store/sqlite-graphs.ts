/**
 * Graph snapshots in the embedded store (issue 14): three typed tables, one row per snapshot,
 * per vertex and per edge, so a graph of 50 assets × 700 snapshots is ~35k vertex rows and a few
 * hundred thousand edge rows that SQL can filter (by method, lag, p-value) without parsing JSON.
 * Writes are UPSERTs by natural key — (graph, t), (graph, t, symbol), (graph, t, method, source,
 * target) — in one transaction per call; a snapshot written again replaces its edges wholly.
 */
import type Database from 'better-sqlite3';
import type { GraphEdge, GraphSnapshot, GraphVertex } from '../contracts/analytics.ts';
import type { GraphQuery } from './store.ts';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS graph_snapshots (
  graph_id TEXT NOT NULL, t INTEGER NOT NULL, window_start INTEGER NOT NULL,
  PRIMARY KEY (graph_id, t)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS graph_vertices (
  graph_id TEXT NOT NULL, t INTEGER NOT NULL, symbol TEXT NOT NULL,
  n_obs INTEGER NOT NULL, missing INTEGER NOT NULL, mean_return REAL NOT NULL,
  volatility REAL NOT NULL, last_return REAL NOT NULL, quote_volume REAL NOT NULL,
  PRIMARY KEY (graph_id, t, symbol)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS graph_edges (
  graph_id TEXT NOT NULL, t INTEGER NOT NULL, method TEXT NOT NULL, source TEXT NOT NULL,
  target TEXT NOT NULL, lag INTEGER NOT NULL, weight REAL NOT NULL, sign INTEGER NOT NULL,
  p_value REAL NOT NULL, n INTEGER NOT NULL,
  PRIMARY KEY (graph_id, t, method, source, target)) WITHOUT ROWID;
`;

export class SqliteGraphs {
  private ready = false;

  constructor(private readonly db: Database.Database) {}

  private init(): void {
    if (this.ready) return;
    this.db.exec(SCHEMA);
    this.ready = true;
  }

  put(graphId: string, snapshots: readonly GraphSnapshot[]): void {
    this.init();
    const snap = this.db.prepare(
      'INSERT INTO graph_snapshots (graph_id, t, window_start) VALUES (?, ?, ?) ' +
        'ON CONFLICT (graph_id, t) DO UPDATE SET window_start = excluded.window_start',
    );
    const clearV = this.db.prepare('DELETE FROM graph_vertices WHERE graph_id = ? AND t = ?');
    const clearE = this.db.prepare('DELETE FROM graph_edges WHERE graph_id = ? AND t = ?');
    const vertex = this.db.prepare('INSERT INTO graph_vertices VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)');
    const edge = this.db.prepare('INSERT INTO graph_edges VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)');
    this.db.transaction(() => {
      for (const s of snapshots) {
        snap.run(graphId, s.t, s.window_start);
        clearV.run(graphId, s.t);
        clearE.run(graphId, s.t);
        for (const v of s.vertices)
          vertex.run(
            graphId,
            s.t,
            v.symbol,
            v.n_obs,
            v.missing,
            v.mean_return,
            v.volatility,
            v.last_return,
            v.quote_volume,
          );
        for (const e of s.edges)
          edge.run(graphId, s.t, e.method, e.source, e.target, e.lag, e.weight, e.sign, e.p_value, e.n);
      }
    })();
  }

  read(graphId: string, q: GraphQuery): GraphSnapshot[] {
    this.init();
    const from = q.from ?? 0;
    const to = q.to ?? Number.MAX_SAFE_INTEGER;
    const snaps = this.db
      .prepare(
        `SELECT t, window_start FROM graph_snapshots WHERE graph_id = ? AND t >= ? AND t < ? ORDER BY t ${q.newest ? 'DESC' : 'ASC'} LIMIT ?`,
      )
      .all(graphId, from, to, q.limit) as { t: number; window_start: number }[];
    if (snaps.length === 0) return [];
    const ts = snaps.map((s) => s.t);
    const first = Math.min(...ts);
    const last = Math.max(...ts);
    const byT = new Map<number, GraphSnapshot>(
      snaps.map((s) => [s.t, { t: s.t, window_start: s.window_start, vertices: [], edges: [] }]),
    );
    const vertices = this.db
      .prepare(
        'SELECT t, symbol, n_obs, missing, mean_return, volatility, last_return, quote_volume FROM graph_vertices ' +
          'WHERE graph_id = ? AND t >= ? AND t <= ? ORDER BY t, symbol',
      )
      .all(graphId, first, last) as (GraphVertex & { t: number })[];
    for (const { t, ...v } of vertices) byT.get(t)?.vertices.push(v);
    const edges = this.db
      .prepare(
        'SELECT t, source, target, method, lag, weight, sign, p_value, n FROM graph_edges ' +
          'WHERE graph_id = ? AND t >= ? AND t <= ? ORDER BY t, method, source, target',
      )
      .all(graphId, first, last) as (GraphEdge & { t: number })[];
    for (const { t, ...e } of edges) byT.get(t)?.edges.push(e);
    return [...byT.values()];
  }
}
