import { AGENT_DETAIL_TYPES, AGENT_EVENT_SOURCE, SUPERVISOR_DETAIL_TYPES } from './agent-events.js';
import type { EventPattern } from './event-pattern.js';
import { WORKER_DETAIL_TYPES } from './worker-contract.js';

/**
 * EventBridge rules on the telemetry bus, declared once for the CDK stack and
 * the local bus (STYLE principle 7). Each names the function it invokes by
 * `target`; the stack maps that to a Lambda function, the local stack to the
 * same handler code. The nightly sweep is a schedule, not a pattern rule.
 */

/** Functions an event rule can invoke (keys of the handler entries). */
export type EventRuleTarget = 'runnerEventIngest' | 'workerEventIngest';

export interface EventRuleDefinition<Target extends string = EventRuleTarget> {
  /** Rule name after the environment prefix: `runlane-<env>-<name>`. */
  readonly name: string;
  readonly description: string;
  /** EventBridge pattern, in the wire format (`detail-type`, not `detailType`). */
  readonly pattern: EventPattern;
  readonly target: Target;
}

/**
 * Stall events and run summaries of `runlane-agent run`, and health reports and
 * child events of `runlane-agent supervise` → the agent event ingest (one
 * function, one DLQ). The rule keeps its first name, `runner-events`, so
 * deployed rules and queues are not replaced.
 */
export const RUNNER_EVENTS_RULE: EventRuleDefinition = {
  name: 'runner-events',
  description:
    'Agent stall events, run summaries, supervisor health and child events to the agent event ingest',
  pattern: {
    source: [AGENT_EVENT_SOURCE],
    'detail-type': [
      AGENT_DETAIL_TYPES.stall,
      AGENT_DETAIL_TYPES.runSummary,
      SUPERVISOR_DETAIL_TYPES.health,
      SUPERVISOR_DETAIL_TYPES.child,
    ],
  },
  target: 'runnerEventIngest',
};

/**
 * Registrations and heartbeats (`WorkerHeartbeat`) and result envelopes (`WorkerResult`) of
 * `runlane-agent worker` with `transport: bus` → the worker event ingest (registry, task store
 * and reconcile; seed 004). Deployed by `WorkerDelegation` in environments with worker sites;
 * the local stack routes it to the same ingest code.
 */
export const WORKER_EVENTS_RULE: EventRuleDefinition<'workerEventIngest'> = {
  name: 'worker-events',
  description: 'Worker heartbeats and result envelopes to the worker event ingest',
  pattern: {
    source: [AGENT_EVENT_SOURCE],
    'detail-type': [WORKER_DETAIL_TYPES.heartbeat, WORKER_DETAIL_TYPES.result],
  },
  target: 'workerEventIngest',
};

export const EVENT_RULES: readonly EventRuleDefinition[] = [RUNNER_EVENTS_RULE, WORKER_EVENTS_RULE];
