import type { RunnerRunSummaryEvent, RunnerStallEvent } from '#contracts/agent-events.js';

/** An event an on-host agent reported: a stall or a run summary (`agent-events.ts`). */
export type RunnerEvent = RunnerStallEvent | RunnerRunSummaryEvent;

/** What storing a runner event did: `duplicate` when an event with its id (and time) is already stored. */
export type RunnerEventPutResult = 'stored' | 'duplicate';

/** The runner events of an environment in a time window, each list sorted by `ts`. */
export interface RunnerEventWindow {
  readonly stalls: RunnerStallEvent[];
  readonly runs: RunnerRunSummaryEvent[];
}

/**
 * Runner events kept for breakdowns and the daily report. `put` stores an
 * event once: a resend (same id, same body) is reported as `duplicate` and
 * changes nothing.
 *
 * @example
 * if ((await store.put(stall)) === 'stored') metrics.record('runnerStalls', 1, dims);
 * const { stalls, runs } = await store.listEvents({ environment: 'prod', from, to });
 */
export interface RunnerEventStore {
  put(event: RunnerEvent): Promise<RunnerEventPutResult>;
  /** Events with `from <= ts < to`, of one environment, each list sorted by `ts`. */
  listEvents(query: {
    readonly environment: string;
    readonly from: Date;
    readonly to: Date;
  }): Promise<RunnerEventWindow>;
}

/** A bus event the runner event ingest refused, with why. */
export interface RunnerEventDeadLetter {
  /** The EventBridge event as the function received it, JSON. */
  readonly body: string;
  /** One of `RUNNER_EVENT_REJECT_REASONS`. */
  readonly reason: string;
  /** What was wrong, with field paths. */
  readonly rationale: string;
  /** The bus event's `detail-type`, when it had one. */
  readonly detailType?: string;
  /** The bus event's `id` (EventBridge's, new on every PutEvents). */
  readonly busEventId?: string;
  /** The agent event's own `id` (`detail.id`), when it had one. */
  readonly eventId?: string;
}

/** Where refused runner events go (the ingest DLQ), so they are neither retried forever nor lost. */
export interface RunnerEventDeadLetterSink {
  send(message: RunnerEventDeadLetter): Promise<void>;
}
