/**
 * Entrypoint of the `streamforge` CLI (bin/streamforge.mjs loads it through tsx): the only file
 * that reads the process's argv and environment. runCli prints every failure itself and resolves
 * to the exit code (exit-codes.ts); it does not reject.
 */
import { runCli } from './program.ts';

process.exitCode = await runCli(process.argv.slice(2), process.env, {
  stdout: process.stdout,
  stderr: process.stderr,
});
