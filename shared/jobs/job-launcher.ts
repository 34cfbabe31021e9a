/**
 * JobLauncher port: how the manager runs a long pull. Kubernetes adapter (batch/v1 Jobs through
 * @kubernetes/client-node) in the cluster; child processes running the same entrypoints locally.
 */
import type { QueueCommand } from '../contracts/workflow.ts';

export interface JobSpec {
  /** The start command; passed to the job as `STREAMFORGE_COMMAND` (JSON) in its environment. */
  command: QueueCommand;
  /** Image from the manager's allow-list (ignored by the child-process adapter). */
  image: string;
  /** Extra environment for the job (exchange URLs, bus and store settings). */
  env?: Record<string, string>;
}

export interface JobHandle {
  /** Job name (Kubernetes) or `pid:<n>` (child process). */
  name: string;
  queue_id: string;
}

export type JobExit = {
  queue_id: string;
  name: string;
  code: number | null;
  signal: string | null;
  /** The workflow attempt the job ran (QueueCommand.attempt), so a late exit of an older attempt is recognised. */
  attempt?: number | undefined;
};

export interface JobLauncher {
  launch(spec: JobSpec): Promise<JobHandle>;
  /** Deletes the job (Kubernetes) or sends SIGTERM (child process). Unknown ids are ignored. */
  cancel(queue_id: string): Promise<void>;
  /** Called when a job ends (child process exit, or a finished Kubernetes Job). */
  onExit(listener: (exit: JobExit) => void): void;
  close(): Promise<void>;
}
