/**
 * How the `runlane-agent` program turns option and argument values into what its commands take
 * (commander's `argParser`): a refused value is a usage error naming the option and the value.
 * No imports that run anything: the program definition stays cheap to build for `--help`.
 */
import { InvalidArgumentError } from '@commander-js/extra-typings';

/** Highest TCP port. */
const MAX_PORT = 65_535;

/**
 * A whole number of milliseconds, port… above zero: `"1200"` → 1200; a sign, a fraction, a unit or
 * zero is refused.
 *
 * @example
 * new Option('--idle-ms <ms>').argParser(positiveInt);
 */
export function positiveInt(value: string): number {
  const parsed = wholeNumber(value);
  if (parsed === undefined || parsed === 0)
    throw new InvalidArgumentError('Expected a whole number above 0.');
  return parsed;
}

/** A whole number, zero included (`--kill-grace-ms 0`: SIGKILL at once). */
export function nonNegativeInt(value: string): number {
  const parsed = wholeNumber(value);
  if (parsed === undefined) throw new InvalidArgumentError('Expected a whole number, 0 or more.');
  return parsed;
}

/** A TCP port, 0 (off) to 65535. */
export function port(value: string): number {
  const parsed = wholeNumber(value);
  if (parsed === undefined || parsed > MAX_PORT)
    throw new InvalidArgumentError(`Expected a port number, 0 (off) to ${MAX_PORT}.`);
  return parsed;
}

/** A name, path or label that must not be empty. */
export function nonEmpty(value: string): string {
  if (value === '') throw new InvalidArgumentError('Must not be empty.');
  return value;
}

/**
 * For an option with an environment variable fallback (`Option.env`): lets an empty value through
 * (commander then holds `''`) and gives anything else to `parse`. The program's
 * {@link ../program.ts} hook makes an empty variable unset, as `RUNNER_IDLE_MS= runlane-agent run …`
 * means in a shell, and refuses an empty value on the command line.
 *
 * @example
 * new Option('--idle-ms <ms>').env('RUNNER_IDLE_MS').argParser(emptyIsUnset(positiveInt));
 */
export function emptyIsUnset<T>(parse: (value: string) => T): (value: string) => T | undefined {
  return (value) => (value === '' ? undefined : parse(value));
}

function wholeNumber(value: string): number | undefined {
  if (!/^\d+$/.test(value)) return undefined;
  const parsed = Number(value);
  return Number.isSafeInteger(parsed) ? parsed : undefined;
}
