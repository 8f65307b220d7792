/**
 * Errors raised by the offline spool (`agent/spool/`). Each keeps the underlying
 * error as `cause`, so a caller can count it by class and still log the detail.
 */

/** Base class of every error thrown by the offline spool. */
export class SpoolError extends Error {
  public constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'SpoolError';
  }
}

/** The spool options are unusable (every problem listed in one message). */
export class InvalidSpoolOptionsError extends SpoolError {
  public constructor(public readonly problems: readonly string[]) {
    super(`invalid offline spool options: ${problems.join('; ')}`);
    this.name = 'InvalidSpoolOptionsError';
  }
}

/** The event cannot be spooled as given (bad payload type, id or body): a caller bug, not a disk problem. */
export class InvalidSpoolEntryError extends SpoolError {
  public constructor(
    public readonly field: 'payloadType' | 'id' | 'body',
    message: string,
  ) {
    super(`${field}: ${message}`);
    this.name = 'InvalidSpoolEntryError';
  }
}

/**
 * Writing the event to disk failed; the event is not spooled and `stats().writeErrors`
 * counts it. The spool stays usable: the next write may succeed.
 */
export class SpoolWriteError extends SpoolError {
  /** errno code of the underlying failure (`ENOSPC`, `EIO`, ...) when there is one. */
  public readonly code: string | undefined;

  public constructor(
    public readonly fileName: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(`cannot spool ${fileName}: ${message}`, options);
    this.name = 'SpoolWriteError';
    this.code = errnoCode(options?.cause);
  }
}

/** The spool's disk is full (ENOSPC / EDQUOT): reported to the caller, never a crash. */
export class SpoolDiskFullError extends SpoolWriteError {
  public constructor(fileName: string, options?: ErrorOptions) {
    super(fileName, 'no space left on the spool disk', options);
    this.name = 'SpoolDiskFullError';
  }
}

/** One event is larger than the whole spool bound, so no eviction can make room for it. */
export class SpoolEntryTooLargeError extends SpoolWriteError {
  public constructor(
    fileName: string,
    public readonly bytes: number,
    public readonly maxBytes: number,
  ) {
    super(fileName, `entry is ${bytes} bytes, larger than the spool bound of ${maxBytes} bytes`);
    this.name = 'SpoolEntryTooLargeError';
  }
}

/** A spool file failed verification (checksum, framing or fields); the spool quarantines it. */
export class SpoolChecksumError extends SpoolError {
  public constructor(
    public readonly fileName: string,
    public readonly reason: string,
    options?: ErrorOptions,
  ) {
    super(`spool file ${fileName} is corrupt: ${reason}`, options);
    this.name = 'SpoolChecksumError';
  }
}

/** errno-style `code` of an unknown error, if it has one. */
export function errnoCode(error: unknown): string | undefined {
  if (typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string') {
    return error.code;
  }
  return undefined;
}
