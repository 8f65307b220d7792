/**
 * A command line `runlane` cannot run, found by a command after commander parsed it (a value
 * that depends on another option, a lane the target does not have…): the command prints the
 * message after its name, `runlane <command>: …`, and exits 2 like any usage error.
 *
 * @example
 * if (options.local && options.env === undefined) throw new UsageError('--local needs --env <environment>');
 */
export class UsageError extends Error {
  public constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}
