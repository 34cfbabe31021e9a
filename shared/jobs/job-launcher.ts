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

/** A job that exists now, running or finished and not yet removed. */
export interface ExistingJob extends JobHandle {
  /** The workflow attempt it runs, when the job says (QueueCommand.attempt). */
  attempt?: number | undefined;
}

export interface JobLauncher {
  launch(spec: JobSpec): Promise<JobHandle>;
  /**
   * The jobs that exist now. A manager that starts again compares them with its active
   * workflows: one whose job is gone (the platform restarted, its child processes died with it;
   * a Job was deleted) can never hear from it again.
   */
  list(): Promise<ExistingJob[]>;
  /** Deletes the job (Kubernetes) or sends SIGTERM (child process). Unknown ids are ignored. */
  cancel(queue_id: string): Promise<void>;
  /** Called when a job ends (child process exit, or a finished Kubernetes Job). */
  onExit(listener: (exit: JobExit) => void): void;
  close(): Promise<void>;
}
