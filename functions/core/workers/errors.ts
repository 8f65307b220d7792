import { RunlaneError } from '../base/errors.js';

/** A worker setting read from the environment is malformed; names the variable. */
export class WorkerSettingsError extends RunlaneError {
  public constructor(
    public readonly variable: string,
    problem: string,
  ) {
    super(`environment variable ${variable} ${problem}`);
    this.name = 'WorkerSettingsError';
  }
}

/** A task message names a site that has no task lane configured (`WORKER_TASK_QUEUE_URLS`). */
export class WorkerSiteNotConfiguredError extends RunlaneError {
  public constructor(public readonly site: string) {
    super(`no worker task queue is configured for site ${site}`);
    this.name = 'WorkerSiteNotConfiguredError';
  }
}

/** A conditional write kept losing to concurrent writers; the caller may retry. */
export class WorkerTaskContentionError extends RunlaneError {
  public constructor(
    public readonly taskId: string,
    operation: string,
  ) {
    super(`${operation} of task ${taskId} lost too many races`);
    this.name = 'WorkerTaskContentionError';
  }
}

/**
 * A result the control plane cannot take yet: the task's command is still being executed by its
 * lane worker (`run_in_progress`). Thrown so Lambda retries the invocation (asynchronous retries,
 * then the on-failure destination): nothing was stored.
 */
export class WorkerResultNotYetAcceptedError extends RunlaneError {
  public constructor(public readonly key: string) {
    super(`worker result ${key} arrived while its run is in progress; retry later`);
    this.name = 'WorkerResultNotYetAcceptedError';
  }
}
