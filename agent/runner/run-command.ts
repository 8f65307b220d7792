import { randomUUID } from 'node:crypto';
import type { Writable } from 'node:stream';
import type { RunnerRunSummaryEvent, RunnerStallEvent } from '#contracts/agent-events.js';
import { type Clock, systemClock } from './clock.js';
import type { RootCauseThresholds, WatchdogTimeouts } from './config.js';
import { EXIT_CODES, signalExitCode } from './exit-codes.js';
import type { HostSample, HostSampler } from './host-signals.js';
import type { RunLabels, RunnerMetrics, RunOutcome } from './metrics.js';
import type { ProcessTreeKiller } from './process-tree.js';
import { redactLines } from './redact.js';
import { classifyStall } from './root-cause.js';
import { type RunningCommand, type Spawner, startWatched, type WatchResult } from './watchdog.js';

export interface RunRequest {
  readonly command: string;
  readonly args: readonly string[];
  readonly labels: RunLabels;
  readonly timeouts: WatchdogTimeouts;
  readonly rootCause: RootCauseThresholds;
  readonly stdout: Writable;
  readonly stderr: Writable;
  readonly stdin?: 'inherit' | 'ignore';
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
  /** Leave processes the command left in its group running (config `keepOrphans`). @default false: stopped */
  readonly keepOrphans?: boolean;
}

/** Everything a run talks to, injectable. */
export interface RunDependencies {
  readonly hostSampler: HostSampler;
  readonly evidence: { readonly file: string; append(event: RunnerStallEvent): Promise<void> };
  /** Where the run's summary is appended (every run, stalled or not). */
  readonly runSummaries?: { readonly file: string; append(summary: RunnerRunSummaryEvent): Promise<void> };
  /** Counts the run and its stall; none when nothing would read them (no metrics endpoint). */
  readonly metrics?: Pick<RunnerMetrics, 'recordStall' | 'recordRun'> | undefined;
  /** The agent's own diagnostics (one line each), kept apart from the command's output. */
  readonly log: (line: string) => void;
  /** @default systemClock */
  readonly clock?: Clock;
  readonly spawner?: Spawner;
  readonly killer?: Pick<ProcessTreeKiller, 'kill'>;
  /** @default crypto.randomUUID */
  readonly newId?: () => string;
}

export interface RunReport {
  readonly exitCode: number;
  readonly outcome: RunOutcome;
  readonly watch: WatchResult;
  /** The stall event, when a deadline fired (also when writing it failed). */
  readonly event?: RunnerStallEvent;
  /** The run's summary (also when writing it failed). */
  readonly summary: RunnerRunSummaryEvent;
}

/**
 * Runs one command under the watchdog; on a stall, classifies it, appends the
 * event to the evidence file and counts it; always counts the run and its duration
 * and appends its summary.
 * Writing evidence never changes the exit code: a failure is logged.
 *
 * @example
 * const running = runCommand(request, deps);
 * process.once('SIGTERM', () => running.abort('SIGTERM'));
 * const { exitCode } = await running.report;
 */
export function runCommand(
  request: RunRequest,
  deps: RunDependencies,
): { readonly report: Promise<RunReport>; abort(signal: NodeJS.Signals): void } {
  const clock = deps.clock ?? systemClock;
  let host: HostSample | undefined;
  const running: RunningCommand = startWatched(request.command, request.args, {
    timeouts: request.timeouts,
    tailLines: request.rootCause.tailLines,
    stdout: request.stdout,
    stderr: request.stderr,
    stdin: request.stdin,
    cwd: request.cwd,
    env: request.env,
    clock,
    spawner: deps.spawner,
    killer: deps.killer,
    stopOrphans: request.keepOrphans !== true,
    onStall: async () => {
      // Read while the command is still stalled, before the kill changes the picture.
      host = await deps.hostSampler().catch(() => undefined);
    },
  });

  const report = running.result.then(async (watch): Promise<RunReport> => {
    const { exitCode, outcome } = exitOf(watch);
    let event: RunnerStallEvent | undefined;
    if (watch.stall !== undefined) {
      const { stall } = watch;
      const verdict = classifyStall({
        lines: stall.lines,
        host,
        thresholds: request.rootCause,
        maxEvidenceLines: request.rootCause.maxEvidenceLines,
        timeout: stall.timeout,
        timeoutMs: stall.timeout === 'idle' ? request.timeouts.idleMs : request.timeouts.hardMs,
      });
      event = {
        id: (deps.newId ?? randomUUID)(),
        ts: clock.date().toISOString(),
        host: request.labels.host,
        environment: request.labels.environment,
        commandType: request.labels.commandType,
        rootCause: verdict.rootCause,
        idleMs: request.timeouts.idleMs,
        hardMs: request.timeouts.hardMs,
        elapsedMs: stall.elapsedMs,
        timeout: stall.timeout,
        pid: stall.pid,
        // Output lines leave the host (the bus): credential-looking strings are redacted first.
        evidence: redactLines(verdict.evidence),
      };
      deps.metrics?.recordStall(verdict.rootCause);
      deps.log(
        `${stall.timeout} timeout after ${stall.elapsedMs} ms (idle ${request.timeouts.idleMs} ms, hard ${request.timeouts.hardMs} ms): ` +
          `root cause ${verdict.rootCause}; process tree of pid ${stall.pid} terminated` +
          (stall.kill.survivors.length > 0 ? `, SURVIVORS ${stall.kill.survivors.join(' ')}` : '') +
          `; event ${event.id}`,
      );
      try {
        await deps.evidence.append(event);
      } catch (error) {
        deps.log(`${(error as Error).message}: ${String((error as Error).cause ?? '')}`);
      }
    } else if (watch.aborted !== undefined) {
      deps.log(`stopped by ${watch.aborted.signal}; process tree of pid ${watch.pid} terminated`);
    }
    const orphansStopped = watch.orphans?.stopped ?? 0;
    if (watch.orphans !== undefined) {
      deps.log(
        `${orphansStopped} process(es) left in the process group of pid ${watch.pid} after it exited were stopped` +
          (watch.orphans.kill.survivors.length > 0
            ? `, SURVIVORS ${watch.orphans.kill.survivors.join(' ')}`
            : ''),
      );
    }
    deps.metrics?.recordRun(outcome, watch.elapsedMs);
    const summary: RunnerRunSummaryEvent = {
      id: (deps.newId ?? randomUUID)(),
      ts: clock.date().toISOString(),
      host: request.labels.host,
      environment: request.labels.environment,
      commandType: request.labels.commandType,
      outcome,
      exitCode,
      durationMs: Math.max(0, Math.round(watch.elapsedMs)),
      orphansStopped,
      ...(event === undefined ? {} : { stallId: event.id }),
    };
    if (deps.runSummaries !== undefined) {
      try {
        await deps.runSummaries.append(summary);
      } catch (error) {
        deps.log(`${(error as Error).message}: ${String((error as Error).cause ?? '')}`);
      }
    }
    return { exitCode, outcome, watch, event, summary };
  });
  return { report, abort: (signal) => running.abort(signal) };
}

function exitOf(watch: WatchResult): { exitCode: number; outcome: RunOutcome } {
  if (watch.stall?.timeout === 'idle') return { exitCode: EXIT_CODES.idleTimeout, outcome: 'idle_timeout' };
  if (watch.stall?.timeout === 'hard') return { exitCode: EXIT_CODES.hardTimeout, outcome: 'hard_timeout' };
  if (watch.aborted !== undefined)
    return { exitCode: signalExitCode(watch.aborted.signal), outcome: 'aborted' };
  if (watch.exitCode !== null)
    return { exitCode: watch.exitCode, outcome: watch.exitCode === 0 ? 'success' : 'failure' };
  return { exitCode: signalExitCode(watch.signal ?? 'SIGKILL'), outcome: 'failure' };
}
