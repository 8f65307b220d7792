import { constants } from 'node:os';
import type { WatchResult } from '../runner/watchdog.js';
import type { TaskExit } from './handle.js';

/** Signals that mean the child crashed (seed 001 `TaskExit::Panicked`). */
export const CRASH_SIGNALS: readonly NodeJS.Signals[] = ['SIGSEGV', 'SIGABRT', 'SIGBUS', 'SIGILL', 'SIGFPE'];

/**
 * Output lines that mean an uncaught error, whatever the runtime: Node's `Uncaught`
 * / `Error: …` followed by a stack frame, Go's `panic:`, Rust's `panicked at`, Python's
 * traceback, the JVM's `Exception in thread`.
 */
const PANIC_LINE =
  /^(Uncaught |panic: |thread '.*' panicked at|Traceback \(most recent call last\)|Exception in thread )/;
const ERROR_LINE = /^(Uncaught )?([A-Za-z_$][\w$.]*)?(Error|Exception)(\s\[[\w-]+\])?: /;
const STACK_FRAME = /^\s+at\s/;

/** Why the supervisor itself stopped a child (a watchdog kill is told by the result). */
export type StopCause = 'restart-child' | 'quarantine-child' | 'remove-child' | 'shutdown';

export interface ExitFacts {
  /** The watched run's result; undefined when the command could not be started. */
  readonly result?: Pick<WatchResult, 'exitCode' | 'signal' | 'stall' | 'aborted'>;
  /** Why the command could not be started (ENOENT…). */
  readonly spawnError?: Error;
  /** Set when the supervisor stopped the child on purpose. */
  readonly stopCause?: StopCause;
  /** The last output lines, oldest first (stdout and stderr interleaved). */
  readonly outputLines: readonly string[];
  /** The last stderr lines, oldest first. */
  readonly stderrLines: readonly string[];
  readonly at: Date;
}

/**
 * Seed 001's `TaskExit`: `Killed` when the watchdog (idle / hard timeout) or the
 * supervisor (an operator command, shutdown) stopped it, or a signal nobody here sent;
 * `Panicked` on a crash signal (also as a shell's `128 + n`) or an uncaught-error text in
 * the output; `Exited` on code 0; else `Failed` with the last stderr line as the reason.
 *
 * @example
 * classifyExit({ result: { exitCode: 1, signal: null }, outputLines: [], stderrLines: ['db down'], at })
 * // { kind: 'Failed', code: 1, reason: 'db down', at: '…' }
 */
export function classifyExit(facts: ExitFacts): TaskExit {
  const at = facts.at.toISOString();
  const { result } = facts;
  if (result === undefined) {
    const code = (facts.spawnError as NodeJS.ErrnoException | undefined)?.code;
    return {
      kind: 'Failed',
      reason: `cannot start: ${code ?? facts.spawnError?.message ?? 'unknown error'}`,
      at,
    };
  }
  const codeAndSignal = {
    ...(result.exitCode === null ? {} : { code: result.exitCode }),
    ...(result.signal === null ? {} : { signal: result.signal }),
  };
  if (result.stall !== undefined) {
    return { kind: 'Killed', ...codeAndSignal, reason: `${result.stall.timeout} timeout`, at };
  }
  if (result.aborted !== undefined || facts.stopCause !== undefined) {
    return { kind: 'Killed', ...codeAndSignal, reason: `operator: ${facts.stopCause ?? 'abort'}`, at };
  }
  if (result.signal !== null) {
    if (CRASH_SIGNALS.includes(result.signal)) {
      return { kind: 'Panicked', ...codeAndSignal, reason: `crash signal ${result.signal}`, at };
    }
    return {
      kind: 'Killed',
      ...codeAndSignal,
      reason: `signal ${result.signal} not sent by the supervisor`,
      at,
    };
  }
  if (result.exitCode === 0) return { kind: 'Exited', code: 0, at };
  const code = result.exitCode ?? -1;
  const shellSignal = signalName(code - 128);
  if (code > 128 && shellSignal !== undefined && CRASH_SIGNALS.includes(shellSignal)) {
    return { kind: 'Panicked', code, reason: `crash signal ${shellSignal} (exit code ${code})`, at };
  }
  const panic = panicText(facts.outputLines);
  if (panic !== undefined) return { kind: 'Panicked', code, reason: panic, at };
  const last = facts.stderrLines.at(-1);
  return { kind: 'Failed', code, reason: last === undefined ? `exit code ${code}` : last.trim(), at };
}

/** The uncaught-error line of a crash in `lines`, if there is one. */
export function panicText(lines: readonly string[]): string | undefined {
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = lines[i] ?? '';
    if (PANIC_LINE.test(line)) return line.trim();
    if (ERROR_LINE.test(line) && STACK_FRAME.test(lines[i + 1] ?? '')) return line.trim();
  }
  return undefined;
}

function signalName(signo: number): NodeJS.Signals | undefined {
  const entry = Object.entries(constants.signals).find(([, value]) => value === signo);
  return entry?.[0] as NodeJS.Signals | undefined;
}

/** One greppable log line: `TaskExit::Failed child=worker code=1 reason="db down"`. */
export function formatTaskExit(child: string, exit: TaskExit, pid: number | null): string {
  const parts = [`TaskExit::${exit.kind}`, `child=${child}`];
  if (pid !== null && pid > 0) parts.push(`pid=${pid}`);
  if (exit.code !== undefined) parts.push(`code=${exit.code}`);
  if (exit.signal !== undefined) parts.push(`signal=${exit.signal}`);
  if (exit.reason !== undefined) parts.push(`reason=${JSON.stringify(exit.reason)}`);
  return parts.join(' ');
}
