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
