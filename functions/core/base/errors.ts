/** Base class for errors the domain core raises on purpose. */
export class RunlaneError extends Error {
  public constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'RunlaneError';
  }
}

/** The lane's worker does not execute this command type (retried, then dead-lettered). */
export class UnsupportedCommandTypeError extends RunlaneError {
  public constructor(
    public readonly commandType: string,
    public readonly lane: string,
  ) {
    super(`command type ${commandType} is not supported on lane ${lane}`);
    this.name = 'UnsupportedCommandTypeError';
  }
}

/** The attempt lost its lock before it could record its outcome. */
export class LockLostError extends RunlaneError {
  public constructor(public readonly commandId: string) {
    super(`attempt on command ${commandId} no longer holds its lock`);
    this.name = 'LockLostError';
  }
}
