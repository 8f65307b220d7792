/**
 * Errors thrown while building the Runlane CDK app. Every class ends in `Error`,
 * sets `this.name` and lists every problem at once, so one synth run shows
 * everything that has to be fixed.
 */

/** Base class of the errors the constructs and the app builder throw. */
export class RunlaneInfraError extends Error {
  public constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'RunlaneInfraError';
  }
}

/**
 * A construct was given props it cannot honour. `problems` lists each one as
 * `propName: what is wrong`.
 */
export class InvalidPropsError extends RunlaneInfraError {
  public readonly constructName: string;
  public readonly problems: readonly string[];

  public constructor(constructName: string, problems: readonly string[]) {
    super(`Invalid ${constructName} props:\n${problems.map((problem) => `  - ${problem}`).join('\n')}`);
    this.name = 'InvalidPropsError';
    this.constructName = constructName;
    this.problems = problems;
  }
}

/** `-c env=<name>` named an environment the configuration does not define. */
export class UnknownEnvironmentError extends RunlaneInfraError {
  public readonly requested: string;
  public readonly validNames: readonly string[];

  public constructor(requested: string, validNames: readonly string[]) {
    super(`Unknown environment "${requested}" in -c env=...; valid names: ${validNames.join(', ')}`);
    this.name = 'UnknownEnvironmentError';
    this.requested = requested;
    this.validNames = validNames;
  }
}

/**
 * Throws one {@link InvalidPropsError} when `problems` is not empty.
 *
 * @example
 * const problems: string[] = [];
 * if (props.batchSize > 10) problems.push(`batchSize: must be at most 10, got ${props.batchSize}`);
 * throwIfProblems('CommandLane', problems);
 */
export function throwIfProblems(constructName: string, problems: readonly string[]): void {
  if (problems.length > 0) throw new InvalidPropsError(constructName, problems);
}
