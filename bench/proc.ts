/**
 * Small helpers the agent and supervisor benchmarks share: a process's CPU time and RSS
 * from /proc (Linux), percentiles, rounding, sleeping.
 */
import { readFile } from 'node:fs/promises';

/** Clock ticks (USER_HZ, 100 per second on Linux) `pid` has spent in user + system mode. */
export async function cpuTicks(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]); // utime + stime
}

/** Resident set size of `pid` in KiB. */
export async function rss(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? Number.NaN);
}

/** Nearest-rank percentile. */
export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

export const round = (n: number, digits: number): number => Number(n.toFixed(digits));
export const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
