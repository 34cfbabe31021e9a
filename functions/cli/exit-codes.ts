/**
 * The `streamforge` CLI's exit codes, in one place: the program, `watch`, `--help` and
 * docs/cli.md all take them from here. A script can branch on the code without reading stderr.
 */

export const EXIT = {
  /** Success (watch: every workflow completed). */
  ok: 0,
  /** Anything not listed below: a bug, or an answer the CLI does not understand (e.g. HTTP 405). */
  unexpected: 1,
  /** Bad command line: unknown command or option, missing argument, invalid option value. */
  usage: 2,
  /** The manager refused the request as invalid (HTTP 400, 413, 501). */
  invalid: 3,
  /** Missing or wrong token (HTTP 401, 403). */
  auth: 4,
  /** No such workflow or route (HTTP 404). */
  notFound: 5,
  /** The workflow's state does not allow it, e.g. cancelling a finished one (HTTP 409). */
  conflict: 6,
  /** Rate-limited or overloaded (HTTP 429): try again after Retry-After. */
  rateLimited: 7,
  /** The manager cannot be reached, or answered a server error (HTTP 5xx except 501). */
  unavailable: 8,
  /** A watched workflow (watch, submit --watch) ended in `error` or `cancelled`. */
  workflowFailed: 9,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** The table shown by `--help` and docs/cli.md, one row per code. */
export const EXIT_CODE_ROWS: readonly (readonly [ExitCode, string])[] = [
  [EXIT.ok, 'success (watch, submit --watch: every workflow completed)'],
  [EXIT.unexpected, 'unexpected failure: a bug, or an answer the CLI does not understand (e.g. HTTP 405)'],
  [EXIT.usage, 'usage error: unknown command or option, missing argument, invalid option value'],
  [EXIT.invalid, 'the manager refused the request as invalid (HTTP 400, 413, 501)'],
  [EXIT.auth, 'authentication: missing or wrong token (HTTP 401, 403)'],
  [EXIT.notFound, 'not found: no such workflow (HTTP 404)'],
  [EXIT.conflict, "conflict: the workflow's state does not allow it (HTTP 409)"],
  [EXIT.rateLimited, 'rate-limited (HTTP 429): retry after the seconds printed'],
  [EXIT.unavailable, 'the manager cannot be reached, or answered a server error (HTTP 5xx except 501)'],
  [EXIT.workflowFailed, 'watch, submit --watch: a workflow ended in error or cancelled'],
];

/** `Exit codes:` and the table, for `--help`. */
export function exitCodeHelp(): string {
  const rows = EXIT_CODE_ROWS.map(([code, meaning]) => `  ${String(code)}  ${meaning}`);
  return ['', 'Exit codes (docs/cli.md):', ...rows].join('\n');
}
