import { AgentError, type ConfigIssue } from '../errors.js';
import { formatIssue } from '../supervisor/errors.js';

/**
 * The worker config (`runlane-agent worker --config <file>`) is invalid; every problem is
 * listed, each named by its field path (`site`, `scripts.restart-app.args.pattern`), in the
 * `field_path="…"` form of the supervisor's errors.
 */
export class WorkerConfigError extends AgentError {
  public constructor(
    public readonly source: string,
    public readonly issues: readonly ConfigIssue[],
    options?: ErrorOptions,
  ) {
    super(
      `invalid worker configuration (${source}):\n${issues.map((i) => `  - ${formatIssue(i)}`).join('\n')}`,
      options,
    );
    this.name = 'WorkerConfigError';
  }
}

/** A request to the control plane's `/api/workers/*` did not get an answer (network, timeout, credentials). */
export class WorkerApiUnreachableError extends AgentError {
  public constructor(
    public readonly url: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(`cannot reach ${url}: ${message}`, options);
    this.name = 'WorkerApiUnreachableError';
  }
}
