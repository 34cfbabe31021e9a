/**
 * Every failure of the CLI as one message on stderr and an exit code (exit-codes.ts). Commander's
 * own errors are printed by commander (configureOutput) and only mapped to a code here.
 */
import { CommanderError } from 'commander';
import { ApiError, UnexpectedAnswerError, UnreachableError } from './client.ts';
import { EXIT, type ExitCode } from './exit-codes.ts';

/**
 * A request the API would refuse by the shared request rules (shared/contracts/request-rules.ts),
 * refused before sending: the same message and issues, the same exit code (3) as the API's answer.
 */
export class RefusedError extends Error {
  override name = 'RefusedError';
  constructor(
    readonly status: 400 | 501,
    message: string,
    readonly issues: unknown[],
  ) {
    super(message);
  }
}

/** A bad command line found after commander parsed it, e.g. an invalid STREAMFORGE_URL. */
export class UsageError extends Error {
  override name = 'UsageError';
}

export interface Failure {
  code: ExitCode;
  /** The first line, without the `error: ` prefix; empty when commander printed it already. */
  message: string;
  /** Further lines (the API's issues), printed indented. */
  details: string[];
}

/** Issues shown for an answer that does not match its schema. */
const MAX_ANSWER_ISSUES = 5;

/** The exit code and message for anything a command threw. */
export function describeError(err: unknown): Failure {
  if (err instanceof CommanderError) {
    // Commander has printed its message (or the help) to stderr already.
    return { code: err.exitCode === 0 ? EXIT.ok : EXIT.usage, message: '', details: [] };
  }
  if (err instanceof UsageError) return { code: EXIT.usage, message: err.message, details: [] };
  if (err instanceof RefusedError)
    return {
      code: EXIT.invalid,
      message: `${err.message} (refused before sending; the API answers ${err.status})`,
      details: err.issues.map(formatIssue),
    };
  if (err instanceof ApiError) return describeApiError(err);
  if (err instanceof UnreachableError)
    return { code: EXIT.unavailable, message: `${err.message}${unreachableHint(err)}`, details: [] };
  if (err instanceof UnexpectedAnswerError) {
    return {
      code: EXIT.unexpected,
      message: `${err.message}; are the CLI and the manager the same version?`,
      // A whole schema's worth of issues says no more than the first few.
      details: [
        ...err.issues.slice(0, MAX_ANSWER_ISSUES).map(formatIssue),
        ...(err.issues.length > MAX_ANSWER_ISSUES
          ? [`... and ${err.issues.length - MAX_ANSWER_ISSUES} more`]
          : []),
      ],
    };
  }
  return {
    code: EXIT.unexpected,
    message: err instanceof Error ? err.message || err.name : String(err),
    details: [],
  };
}

/** What the user can do about a network error, when the cause says. */
function unreachableHint(err: UnreachableError): string {
  if (err.code === 'ECONNREFUSED')
    return '; is the platform running? start it with npm start (or point --url / STREAMFORGE_URL at the manager)';
  if (err.code === 'ENOTFOUND' || err.code === 'EAI_AGAIN') return '; check --url / STREAMFORGE_URL';
  // fetch never connects to the ports on its blocklist (6000, 6667...), whatever listens there.
  if (err.reason === 'bad port') return '; fetch refuses this port: serve the manager on another one';
  return '';
}

function describeApiError(err: ApiError): Failure {
  const { status, request } = err;
  const head =
    err.serverMessage !== undefined
      ? `${err.serverMessage} (HTTP ${status})`
      : `${request.method} ${request.url} answered HTTP ${status}`;
  const details = (err.issues ?? []).map(formatIssue);
  const retry = err.retryAfterS === undefined ? '' : `; retry after ${err.retryAfterS} s`;
  if (status === 400 || status === 413 || status === 501)
    return { code: EXIT.invalid, message: head, details };
  if (status === 401 || status === 403) {
    const why = request.token
      ? "the token was refused: STREAMFORGE_TOKEN or --token must be the manager's API_TOKEN"
      : "no token was sent: set STREAMFORGE_TOKEN or pass --token <token> (the manager's API_TOKEN)";
    return { code: EXIT.auth, message: `${head}; ${why}`, details };
  }
  if (status === 404) return { code: EXIT.notFound, message: head, details };
  if (status === 409) return { code: EXIT.conflict, message: head, details };
  if (status === 429)
    return { code: EXIT.rateLimited, message: `${head}${retry || '; retry later'}`, details };
  if (status >= 500) {
    const why = err.serverMessage === undefined ? '' : `: ${err.serverMessage}`;
    return {
      code: EXIT.unavailable,
      message: `${request.method} ${request.url} failed with HTTP ${status}${why}${retry}`,
      details,
    };
  }
  return { code: EXIT.unexpected, message: head, details };
}

/** A zod issue as `path: message` (the path dotted, `symbols.1`); just the message without a path. */
export function formatIssue(issue: unknown): string {
  if (typeof issue === 'object' && issue !== null && 'message' in issue) {
    const path = 'path' in issue && Array.isArray(issue.path) ? issue.path.map(String).join('.') : '';
    return `${path ? `${path}: ` : ''}${String(issue.message)}`;
  }
  return JSON.stringify(issue);
}

/** `error: <prefix><message>` and the details indented, as one write; nothing when commander printed it. */
export function renderFailure(f: Failure, prefix = ''): string {
  if (f.message === '') return '';
  return [`error: ${prefix}${f.message}`, ...f.details.map((d) => `  ${d}`)].join('\n') + '\n';
}
