/** Reads the captured Binance payloads in test/fixtures/binance (copied into the repo, SOURCES.md). */
import fs from 'node:fs';
import path from 'node:path';

const repoRoot = path.resolve(import.meta.dirname, '../..');
export const FIXTURES = path.resolve(repoRoot, 'test/fixtures/binance');

/** Parsed JSON of one fixture file: `unknown` until a schema says otherwise. */
export function fixture(rel: string): unknown {
  return JSON.parse(fs.readFileSync(path.join(FIXTURES, rel), 'utf8')) as unknown;
}

/** Every non-empty line of a `.jsonl` capture, parsed. */
export function fixtureLines(rel: string): unknown[] {
  return fs
    .readFileSync(path.join(FIXTURES, rel), 'utf8')
    .split('\n')
    .filter((l) => l.trim().length > 0)
    .map((l) => JSON.parse(l) as unknown);
}

/** A fixture that is a JSON array. */
export function fixtureArray(rel: string): unknown[] {
  const v = fixture(rel);
  if (!Array.isArray(v)) throw new Error(`${rel} is not a JSON array`);
  return v;
}
