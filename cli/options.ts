/**
 * Options several `runlane` commands share, and the parsers that turn option values into typed
 * ones. A parser throws commander's InvalidArgumentError, so a bad value is a usage error (exit 2)
 * naming the option, found while parsing: before anything runs, and by the runbook checks too.
 */
import { InvalidArgumentError, Option } from '@commander-js/extra-typings';
import { z } from 'zod';
import { ENVIRONMENT_NAMES } from '#lib/config/environment-config.js';

/** The local stack's API, where a command targets it by default. */
export const DEFAULT_API_URL = 'http://127.0.0.1:3000';

/** The help heading of the options that say which stack a command reads. */
export const WHERE = 'Where to read:';

/** `--api-url <url>`: the local stack (the default target). */
export function apiUrlOption(description = 'a running local stack (npm start)') {
  return new Option('--api-url <url>', description).default(DEFAULT_API_URL).helpGroup(WHERE);
}

/** `--env <env>`: a deployed environment, one of cdk.json's (dev, staging, prod). */
export function envOption(
  description = 'a deployed environment, found through the outputs of stack Runlane-<env>',
) {
  return new Option('--env <env>', description).choices(ENVIRONMENT_NAMES).helpGroup(WHERE);
}

/** `--json`: JSON on stdout instead of text. */
export function jsonOption(description = 'JSON instead of text') {
  return new Option('--json', description);
}

/**
 * A port number, 0-65535 (0: any free port).
 *
 * @example
 * new Option('--port <n>').argParser(portNumber);
 */
export function portNumber(value: string): number {
  const port = Number(value);
  if (value.trim() === '' || !Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new InvalidArgumentError('Expected a port number 0-65535.');
  }
  return port;
}

/**
 * A parser of a number ≥ `min` (fractions allowed).
 *
 * @example
 * new Option('--timeout <s>').argParser(numberAtLeast(1));
 */
export function numberAtLeast(min: number): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n) || n < min) {
      throw new InvalidArgumentError(`Expected a number ≥ ${min}.`);
    }
    return n;
  };
}

/** A number above 0. */
export function positiveNumber(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !(n > 0) || !Number.isFinite(n))
    throw new InvalidArgumentError('Expected a number above 0.');
  return n;
}

/** A parser of a whole number from `min` to `max`. */
export function wholeNumber(min: number, max = Number.MAX_SAFE_INTEGER): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(
        max === Number.MAX_SAFE_INTEGER
          ? `Expected a whole number ≥ ${min}.`
          : `Expected a whole number from ${min} to ${max}.`,
      );
    }
    return n;
  };
}

/** A count such as `-n 10`: a whole number ≥ 0, 0 meaning all. */
export function count(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n)) {
    throw new InvalidArgumentError('Expected a whole number ≥ 0 (0 = all).');
  }
  return n;
}

const ISO_TIME = z.iso.datetime({ offset: true });

/**
 * `--now <iso>`: an ISO 8601 date-time with Z or an offset.
 *
 * @example
 * isoTime('2026-05-14T12:00:00Z'); // Date
 */
export function isoTime(value: string): Date {
  if (!ISO_TIME.safeParse(value).success) {
    throw new InvalidArgumentError(
      'Expected an ISO 8601 time with Z or an offset, such as 2026-05-14T12:00:00Z.',
    );
  }
  return new Date(value);
}

const DURATION_UNITS_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/**
 * `--since 30m`: a positive number followed by s, m, h or d, in milliseconds.
 *
 * @example
 * duration('30m'); // 1_800_000
 */
export function duration(value: string): number {
  const match = /^(\d+(?:\.\d+)?)([smhd])$/.exec(value);
  const amount = Number(match?.[1]);
  if (!match || !(amount > 0)) throw new InvalidArgumentError('Expected a duration like 90s, 30m, 2h or 1d.');
  return amount * DURATION_UNITS_MS[match[2] as keyof typeof DURATION_UNITS_MS];
}

/**
 * A parser that checks a value with a schema (zod's `safeParse`), its first issue as the message.
 *
 * @example
 * new Option('--site <site>').argParser(checkedBy(workerSiteSchema));
 */
export function checkedBy<T>(schema: z.ZodType<T>): (value: string) => T {
  return (value) => {
    const result = schema.safeParse(value);
    if (result.success) return result.data;
    throw new InvalidArgumentError(`It ${result.error.issues[0]?.message ?? 'is invalid'}.`);
  };
}
