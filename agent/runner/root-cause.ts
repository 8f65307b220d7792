import type { StallRootCause } from '#contracts/agent-events.js';
import type { HostSample } from './host-signals.js';

/** Thresholds for the host signals; see `rootCause` in `config/runner.json`. */
export interface HostThresholds {
  /** 1-minute load average per core above which the stall is `cpu_starve`. */
  readonly loadPerCoreThreshold: number;
  /** CPU pressure `some avg10` (%) above which the stall is `cpu_starve`. */
  readonly cpuPressureThreshold: number;
  /** I/O pressure `some avg10` (%) above which the stall is `io_wait`. */
  readonly ioPressureThreshold: number;
}

export interface ClassifyInput {
  /** The last output lines of the command, oldest first (stdout and stderr as they arrived). */
  readonly lines: readonly string[];
  /** The host while the command was stalled; undefined when it could not be read. */
  readonly host: HostSample | undefined;
  readonly thresholds: HostThresholds;
  /** Most evidence lines to keep. */
  readonly maxEvidenceLines: number;
  /** Which deadline fired and after how long, for the `child_hang` evidence line. */
  readonly timeout: 'idle' | 'hard';
  readonly timeoutMs: number;
}

export interface Classification {
  readonly rootCause: StallRootCause;
  /** The lines (output, or host readings) that decided it. */
  readonly evidence: readonly string[];
}

type OutputCause = Extract<StallRootCause, 'io_wait' | 'lock' | 'network'>;

/**
 * Output patterns per root cause, checked in this order on each line: an I/O error
 * that mentions a timeout is still I/O, "lock wait timeout" is still a lock.
 */
export const OUTPUT_PATTERNS: readonly (readonly [OutputCause, readonly RegExp[]])[] = [
  [
    'io_wait',
    [
      /\b(ENOSPC|EIO|EDQUOT|EROFS)\b/,
      /no space left on device/i,
      /input\/output error/i,
      /disk quota exceeded/i,
      /read-only file system/i,
    ],
  ],
  [
    'lock',
    [
      /\b(EBUSY|EDEADLK|EDEADLOCK|ENOLCK)\b/,
      /dead-?lock/i,
      /resource busy/i,
      /\b(is|are|was) locked\b/i,
      /\b(lock|mutex|semaphore|flock)\b.*\b(held|acquir\w*|wait\w*|timed? ?out|contention|busy|fail\w*|denied|exists)\b/i,
      /\b(wait\w*|unable|fail\w*|could not|cannot|can't)\b.*\b(lock|mutex|semaphore)\b/i,
    ],
  ],
  [
    'network',
    [
      /\bECONN[A-Z]+\b/,
      /\bENET[A-Z]+\b/,
      /\b(EHOSTUNREACH|EHOSTDOWN|EAI_AGAIN|ENOTFOUND|ETIMEDOUT|ESOCKETTIMEDOUT|EPROTO)\b/,
      /\bUND_ERR_[A-Z_]+\b/,
      /socket hang up/i,
      /connection (reset|refused|closed|aborted)/i,
      /(could not|couldn't) resolve host/i,
      /network is unreachable/i,
      /\b(connect|connection|socket|request|response|read|network|gateway|handshake|dns|http|upstream)\b.*\btime(d[ -]?out|out)\b/i,
    ],
  ],
];

function outputCause(line: string): OutputCause | undefined {
  for (const [cause, patterns] of OUTPUT_PATTERNS) {
    if (patterns.some((pattern) => pattern.test(line))) return cause;
  }
  return undefined;
}

const fmt = (n: number): string => n.toFixed(2);

/**
 * Decides why a command stalled (seed 002's categories). Output first: the most
 * recent line that names an I/O, lock or network error decides, with every line of
 * that category as evidence (the last `maxEvidenceLines`). Then the host: I/O
 * pressure over its threshold is `io_wait`; load per core or CPU pressure over its
 * threshold is `cpu_starve`. Otherwise `child_hang`. Pure: no I/O, no clock.
 *
 * @example
 * classifyStall({ lines: ['Error: ENOSPC: no space left on device'], host: undefined, thresholds,
 *   maxEvidenceLines: 5, timeout: 'idle', timeoutMs: 12000 }).rootCause; // 'io_wait'
 */
export function classifyStall(input: ClassifyInput): Classification {
  const causes = input.lines.map(outputCause);
  for (let i = causes.length - 1; i >= 0; i--) {
    const cause = causes[i];
    if (cause === undefined) continue;
    const evidence = input.lines.filter((_, j) => causes[j] === cause).slice(-input.maxEvidenceLines);
    return { rootCause: cause, evidence };
  }
  const host = input.host;
  const t = input.thresholds;
  if (host !== undefined) {
    if (host.ioPressure !== undefined && host.ioPressure > t.ioPressureThreshold) {
      return {
        rootCause: 'io_wait',
        evidence: [`host: io pressure some avg10=${fmt(host.ioPressure)}% > ${fmt(t.ioPressureThreshold)}%`],
      };
    }
    const cpuEvidence: string[] = [];
    if (host.load1 !== undefined && host.cores > 0 && host.load1 / host.cores > t.loadPerCoreThreshold) {
      cpuEvidence.push(
        `host: load1=${fmt(host.load1)} on ${host.cores} cores = ${fmt(host.load1 / host.cores)}/core > ${fmt(t.loadPerCoreThreshold)}`,
      );
    }
    if (host.cpuPressure !== undefined && host.cpuPressure > t.cpuPressureThreshold) {
      cpuEvidence.push(
        `host: cpu pressure some avg10=${fmt(host.cpuPressure)}% > ${fmt(t.cpuPressureThreshold)}%`,
      );
    }
    if (cpuEvidence.length > 0) return { rootCause: 'cpu_starve', evidence: cpuEvidence };
  }
  const what =
    input.timeout === 'idle'
      ? `no output for ${input.timeoutMs} ms`
      : `still running after ${input.timeoutMs} ms`;
  return {
    rootCause: 'child_hang',
    evidence: [`${input.timeout} timeout: ${what}; no I/O, network, lock or host signal`],
  };
}
