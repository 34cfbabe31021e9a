/** Runs promtool (Debian's `prometheus` package; .ci/run installs it) and the metric-name checks. */
import { spawnSync } from 'node:child_process';

export const PROMTOOL = process.env['PROMTOOL'] ?? 'promtool';

/** promtool with `args`, `input` on stdin: exit code and both outputs. */
export function promtool(args: string[], input?: string, cwd?: string) {
  const r = spawnSync(PROMTOOL, args, { input, cwd, encoding: 'utf8', timeout: 60_000 });
  if (r.error)
    throw new Error(
      `${PROMTOOL} ${args.join(' ')}: ${r.error.message} (install Debian's prometheus package)`,
    );
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Metric names a /metrics text exposes, with the series names a histogram or summary adds. */
export function exportedNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    const [, name = '', type] = m;
    names.add(name);
    if (type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(name + s);
    if (type === 'summary') for (const s of ['_sum', '_count']) names.add(name + s);
  }
  return names;
}

/** Metric names in a PromQL expression: the project's and the runtime's prefixes. */
export function referencedNames(expr: string): string[] {
  return [...expr.matchAll(/\b(?:streamforge|http|process|nodejs)_[a-zA-Z0-9_:]*/g)].map((m) => m[0]);
}
