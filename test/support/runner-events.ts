import { randomUUID } from 'node:crypto';
import {
  type RunnerRunSummaryEvent,
  type RunnerStallEvent,
  runnerRunSummaryEventSchema,
  runnerStallEventSchema,
} from '#contracts/agent-events.js';

/** The `now` most report tests end their 24 h at. */
export const NOW = new Date('2026-05-14T12:00:00.000Z');

/** `now` minus some milliseconds, as an event `ts`. */
export function ago(ms: number, now: Date = NOW): string {
  return new Date(now.getTime() - ms).toISOString();
}

export const SECOND = 1000;
export const MINUTE = 60 * SECOND;
export const HOUR = 60 * MINUTE;

/** A valid stall event (checked against the schema), 1 h before `NOW` unless overridden. */
export function aStall(overrides: Partial<RunnerStallEvent> = {}): RunnerStallEvent {
  return runnerStallEventSchema.parse({
    id: randomUUID(),
    ts: ago(HOUR),
    host: 'ci-host-1',
    environment: 'production',
    commandType: 'build',
    rootCause: 'network',
    idleMs: 12_000,
    hardMs: 45_000,
    elapsedMs: 12_500,
    timeout: 'idle',
    pid: 4242,
    evidence: ['connect ETIMEDOUT 10.0.0.7:443'],
    ...overrides,
  });
}

/** A valid run summary, a 2 s success 1 h before `NOW` unless overridden. */
export function aRun(overrides: Partial<RunnerRunSummaryEvent> = {}): RunnerRunSummaryEvent {
  return runnerRunSummaryEventSchema.parse({
    id: randomUUID(),
    ts: ago(HOUR),
    host: 'ci-host-1',
    environment: 'production',
    commandType: 'build',
    outcome: 'success',
    exitCode: 0,
    durationMs: 2_000,
    ...overrides,
  });
}

/** Events as the agent writes them: one JSON line each. */
export function jsonLines(events: readonly object[]): string {
  return events.map((e) => `${JSON.stringify(e)}\n`).join('');
}
