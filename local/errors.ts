/**
 * Errors raised by the local runtime (emulators, provisioning, event-source
 * mapping). Every error names what to do about it.
 */

/** Base class of every error thrown by `local/`. */
export class LocalRuntimeError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'LocalRuntimeError';
  }
}

const JAVA_INSTALL_HINT =
  'DynamoDB Local needs a Java 17+ JDK (java and javac): install one, e.g. `apt-get install openjdk-17-jdk-headless` ' +
  'or `brew install openjdk@17`, and put it on PATH or point JAVA_HOME at it.';

/** `java` could not be started at all. */
export class JavaNotFoundError extends LocalRuntimeError {
  constructor(
    readonly command: string,
    options?: ErrorOptions,
  ) {
    super(`Cannot run Java (\`${command}\`). ${JAVA_INSTALL_HINT}`, options);
    this.name = 'JavaNotFoundError';
  }
}

/** `java` runs but is older than DynamoDB Local requires. */
export class JavaVersionError extends LocalRuntimeError {
  constructor(
    readonly command: string,
    readonly found: string,
    readonly required: number,
  ) {
    super(
      `\`${command}\` is Java ${found}; DynamoDB Local needs Java ${required} or newer. ${JAVA_INSTALL_HINT}`,
    );
    this.name = 'JavaVersionError';
  }
}

/** Java runs but cannot compile the small loopback launcher (a JRE without a compiler). */
export class JavaCompilerNotFoundError extends LocalRuntimeError {
  constructor(detail: string, options?: ErrorOptions) {
    super(
      `Cannot compile the DynamoDB Local loopback launcher (${detail}). A JRE is not enough. ${JAVA_INSTALL_HINT}`,
      options,
    );
    this.name = 'JavaCompilerNotFoundError';
  }
}

/** The requested port is already bound by another process. */
export class PortInUseError extends LocalRuntimeError {
  constructor(
    readonly service: 'DynamoDB Local' | 'SQS emulator' | 'API' | 'EventBridge endpoint',
    readonly port: number,
    options?: ErrorOptions,
  ) {
    super(
      `${service} cannot listen on 127.0.0.1:${port}: the port is already in use. ` +
        'Is another `npm start` running? Stop whatever holds it, or pass another port (0 picks a free one).',
      options,
    );
    this.name = 'PortInUseError';
  }
}

/** An emulator did not become ready, or exited, during start-up. */
export class EmulatorStartError extends LocalRuntimeError {
  constructor(
    readonly service: 'DynamoDB Local' | 'SQS emulator' | 'API' | 'EventBridge endpoint',
    detail: string,
    options?: ErrorOptions,
  ) {
    super(`${service} failed to start: ${detail}`, options);
    this.name = 'EmulatorStartError';
  }
}

/** Options were rejected; `problems` lists every one of them. */
export class InvalidOptionsError extends LocalRuntimeError {
  constructor(
    readonly subject: string,
    readonly problems: readonly string[],
  ) {
    super(`Invalid ${subject} options:\n${problems.map((problem) => `  - ${problem}`).join('\n')}`);
    this.name = 'InvalidOptionsError';
  }
}

/** An existing resource does not have the layout provisioning would create. */
export class ProvisioningMismatchError extends LocalRuntimeError {
  constructor(
    readonly resource: string,
    readonly problems: readonly string[],
  ) {
    super(
      `${resource} already exists with a different layout:\n${problems.map((problem) => `  - ${problem}`).join('\n')}\n` +
        'Delete it (or use another name) and provision again.',
    );
    this.name = 'ProvisioningMismatchError';
  }
}

/** The data folder cannot be used as it is. */
export class DataFolderError extends LocalRuntimeError {
  public constructor(dataDir: string, problem: string, options?: ErrorOptions) {
    super(
      `The data folder ${dataDir} could not be used: ${problem}. ` +
        `Reset it with \`npm start -- --reset\` (this deletes local data) or remove the folder.`,
      options,
    );
    this.name = 'DataFolderError';
  }
}
