/**
 * The loader's command (DESIGN.md "Shape": a Job takes its command from its environment and its
 * stop from SIGTERM). `readCommand` checks STREAMFORGE_COMMAND; a command that can never run is
 * told apart from a missing one, so the handler can report it on the workflow.
 */
import { QueueCommand } from '../contracts/workflow.ts';

export type CommandOutcome =
  | { kind: 'command'; command: QueueCommand }
  | { kind: 'invalid'; raw: unknown; problems: string[] }
  | { kind: 'none'; reason: string };

/** A start command from its JSON: the same check whichever transport brought it. */
export function validateCommand(raw: unknown): CommandOutcome {
  const parsed = QueueCommand.safeParse(raw);
  if (!parsed.success)
    return {
      kind: 'invalid',
      raw,
      problems: parsed.error.issues.map((i) => `${i.path.join('.') || '(command)'}: ${i.message}`),
    };
  if (parsed.data.command !== 'start')
    return { kind: 'invalid', raw, problems: ['command: a loader starts with a "start" command'] };
  return { kind: 'command', command: parsed.data };
}

/** STREAMFORGE_COMMAND as given (undefined when unset). */
export function readCommand(envCommand: string | undefined): CommandOutcome {
  if (envCommand === undefined) return { kind: 'none', reason: 'STREAMFORGE_COMMAND is not set' };
  let raw: unknown;
  try {
    raw = JSON.parse(envCommand);
  } catch (err) {
    return {
      kind: 'invalid',
      raw: undefined,
      problems: [`STREAMFORGE_COMMAND is not JSON: ${(err as Error).message}`],
    };
  }
  return validateCommand(raw);
}
