import { AgentError } from '../errors.js';

/**
 * The worker config (`runlane-agent worker --config <file>`) is invalid; every problem is
 * listed, each named by its field path. Defined with the config's schema in common/ (the
 * `runlane` CLI checks the files it writes with it too).
 */
export { WorkerConfigError } from '#common/worker-config.js';

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
