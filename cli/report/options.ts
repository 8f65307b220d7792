import { z } from 'zod';
import { UsageError } from '../commands.js';

const isoTime = z.iso.datetime({ offset: true });

/**
 * `--now <iso>`: an ISO 8601 date-time with Z or an offset; the current time when absent.
 *
 * @example
 * parseNow('2026-05-14T12:00:00Z'); // Date
 */
export function parseNow(value: string | undefined): Date {
  if (value === undefined) return new Date();
  if (!isoTime.safeParse(value).success)
    throw new UsageError(`--now must be an ISO 8601 time with Z or an offset, got "${value}"`);
  return new Date(value);
}

const DURATION_UNITS_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/**
 * `--since 30m`: a positive number followed by s, m, h or d, in milliseconds.
 *
 * @example
 * parseDuration('30m', '--since'); // 1_800_000
 */
export function parseDuration(value: string, flag: string): number {
  const match = /^(\d+(?:\.\d+)?)([smhd])$/.exec(value);
  const amount = Number(match?.[1]);
  if (!match || !(amount > 0))
    throw new UsageError(`${flag} must be a duration like 90s, 30m, 2h or 1d, got "${value}"`);
  return amount * DURATION_UNITS_MS[match[2] as keyof typeof DURATION_UNITS_MS];
}

/**
 * A count flag such as `-n 10`: a whole number ≥ 0 (0 = no limit).
 *
 * @example
 * parseCount('10', '-n', 10); // 10
 */
export function parseCount(value: string | undefined, flag: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n))
    throw new UsageError(`${flag} must be a whole number ≥ 0 (0 = all), got "${value}"`);
  return n;
}
