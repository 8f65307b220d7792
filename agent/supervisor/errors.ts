import { type ConfigIssue, formatIssue } from '#common/config-issues.js';
import { AgentError } from '../errors.js';

/**
 * The supervisor config (or an `add-child` spec) is invalid; every problem is listed, each
 * named by its field path (`children.1.name`, `children.0.restartBudget.tokens`).
 */
export class SupervisorConfigError extends AgentError {
  public constructor(
    public readonly source: string,
    public readonly issues: readonly ConfigIssue[],
    options?: ErrorOptions,
  ) {
    super(
      `invalid supervisor configuration (${source}):\n${issues.map((i) => `  - ${formatIssue(i)}`).join('\n')}`,
      options,
    );
    this.name = 'SupervisorConfigError';
  }
}

/**
 * The pid file belongs to a supervisor that is still running (same pid and start time):
 * starting a second one would take its children for orphans and kill them.
 */
export class SupervisorPidFileInUseError extends SupervisorConfigError {
  public constructor(
    public readonly pidFile: string,
    public readonly ownerPid: number,
  ) {
    super(pidFile, [
      {
        fieldPath: 'pidFile',
        message: `${pidFile} belongs to a running supervisor (pid ${ownerPid}); stop it or use another pidFile`,
      },
    ]);
    this.name = 'SupervisorPidFileInUseError';
  }
}
