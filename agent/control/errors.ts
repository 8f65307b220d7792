import { AgentError } from '../errors.js';

/** The config field the control socket's path comes from (seed 001: `field_path="dashboard.path"`). */
export const CONTROL_SOCKET_FIELD_PATH = 'dashboard.path';

/** The control socket cannot be served at its configured path; names the config field. */
export class ControlSocketError extends AgentError {
  public readonly fieldPath = CONTROL_SOCKET_FIELD_PATH;

  public constructor(
    public readonly path: string,
    problem: string,
    options?: ErrorOptions,
  ) {
    super(`control socket ${path}: ${problem} (field_path="${CONTROL_SOCKET_FIELD_PATH}")`, options);
    this.name = 'ControlSocketError';
  }
}

/** Another supervisor already answers on the control socket's path; this one must not start. */
export class ControlSocketInUseError extends ControlSocketError {
  public constructor(path: string, options?: ErrorOptions) {
    super(path, 'already served by another supervisor; give each supervisor its own path', options);
    this.name = 'ControlSocketInUseError';
  }
}

/**
 * Why `sendControlCommand` got no answer: `no_supervisor` (ENOENT: nothing at the path),
 * `stale_socket` (ECONNREFUSED: a socket file nobody listens on), `permission_denied` (EACCES),
 * `timeout`, `protocol` (closed without an answer, or an answer that is not the protocol's), `io`.
 */
export type ControlClientErrorCode =
  | 'no_supervisor'
  | 'stale_socket'
  | 'permission_denied'
  | 'timeout'
  | 'protocol'
  | 'io';

/** The control socket could not be reached or did not answer. */
export class ControlClientError extends AgentError {
  public constructor(
    public readonly code: ControlClientErrorCode,
    public readonly path: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'ControlClientError';
  }
}
