/**
 * Fixtures of the runner event ingest tests: valid agent events, the bus event
 * EventBridge hands to the ingest, and in-memory ports.
 */
import { randomUUID } from 'node:crypto';
import type { EventBridgeEvent } from 'aws-lambda';
import {
  AGENT_DETAIL_TYPES,
  AGENT_EVENT_SOURCE,
  type RunnerRunSummaryEvent,
  type RunnerStallEvent,
} from '#contracts/agent-events.js';
import type {
  RunnerEvent,
  RunnerEventDeadLetter,
  RunnerEventDeadLetterSink,
  RunnerEventStore,
  RunnerEventWindow,
} from '#core/runner/ports.js';

/** A valid stall event (seed 002 fields); override any field. */
export function aStallEvent(overrides: Partial<RunnerStallEvent> = {}): RunnerStallEvent {
  return {
    id: randomUUID(),
    ts: new Date().toISOString(),
    host: 'build-01',
    environment: 'prod',
    commandType: 'nightly-export',
    rootCause: 'network',
    idleMs: 12_000,
    hardMs: 45_000,
    elapsedMs: 12_050,
    timeout: 'idle',
    pid: 4242,
    evidence: ['connect ECONNREFUSED 127.0.0.1:9'],
    ...overrides,
  };
}

/** A valid run summary; override any field. */
export function aRunSummaryEvent(overrides: Partial<RunnerRunSummaryEvent> = {}): RunnerRunSummaryEvent {
  return {
    id: randomUUID(),
    ts: new Date().toISOString(),
    host: 'build-01',
    environment: 'prod',
    commandType: 'nightly-export',
    outcome: 'success',
    exitCode: 0,
    durationMs: 5_200,
    ...overrides,
  };
}

/** The event as EventBridge hands it to the rule's Lambda target. */
export function aBusEvent(
  detail: unknown,
  detailType: string = AGENT_DETAIL_TYPES.stall,
  overrides: Partial<EventBridgeEvent<string, unknown>> = {},
): EventBridgeEvent<string, unknown> {
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': detailType,
    source: AGENT_EVENT_SOURCE,
    account: '000000000000',
    time: new Date().toISOString(),
    region: 'us-east-1',
    resources: [],
    detail,
    ...overrides,
  };
}

/** The bus event carrying an agent event, by its kind (a new bus event id each time, as on a resend). */
export function busEventOf(event: RunnerEvent): EventBridgeEvent<string, unknown> {
  return aBusEvent(event, 'rootCause' in event ? AGENT_DETAIL_TYPES.stall : AGENT_DETAIL_TYPES.runSummary);
}

/** In-memory store keyed like the DynamoDB one (environment, ts, id); can be told to fail. */
export class InMemoryRunnerEventStore implements RunnerEventStore {
  public readonly events = new Map<string, RunnerEvent>();
  public failWith: Error | undefined;

  public async put(event: RunnerEvent): Promise<'stored' | 'duplicate'> {
    if (this.failWith) throw this.failWith;
    const key = `${event.environment}|${new Date(event.ts).toISOString()}|${event.id}`;
    if (this.events.has(key)) return 'duplicate';
    this.events.set(key, event);
    return 'stored';
  }

  public async listEvents(query: { environment: string; from: Date; to: Date }): Promise<RunnerEventWindow> {
    const inWindow = [...this.events.values()]
      .filter((e) => e.environment === query.environment)
      .filter((e) => Date.parse(e.ts) >= query.from.getTime() && Date.parse(e.ts) < query.to.getTime())
      .sort((a, b) => Date.parse(a.ts) - Date.parse(b.ts));
    return {
      stalls: inWindow.filter((e): e is RunnerStallEvent => 'rootCause' in e),
      runs: inWindow.filter((e): e is RunnerRunSummaryEvent => !('rootCause' in e)),
    };
  }
}

/** Keeps what was dead-lettered. */
export class RecordingRunnerEventDeadLetters implements RunnerEventDeadLetterSink {
  public readonly sent: RunnerEventDeadLetter[] = [];
  public async send(message: RunnerEventDeadLetter): Promise<void> {
    this.sent.push(message);
  }
}
