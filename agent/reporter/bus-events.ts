/**
 * Agent events in the offline spool: the spool payload type of each detail type, and a spooled
 * body back as a validated bus event. Loaded by the reporter (agent-reporter.ts) only when an
 * event is spooled or spooled events are replayed: the schemas bring zod's classic API, which
 * an idle `runlane-agent run` does not need (issue 18).
 */
import {
  AGENT_DETAIL_TYPES,
  type AgentBusEvent,
  runnerRunSummaryEventSchema,
  runnerStallEventSchema,
  SUPERVISOR_DETAIL_TYPES,
  supervisorChildEventSchema,
  supervisorHealthEventSchema,
} from '#contracts/agent-events.js';
import {
  WORKER_DETAIL_TYPES,
  workerHeartbeatEventSchema,
  workerResultEnvelopeSchema,
} from '#contracts/worker-contract.js';

/** Spool payload type of each detail type (the first part of a spool file's name). */
export const SPOOL_PAYLOAD_TYPES = {
  [AGENT_DETAIL_TYPES.stall]: 'stall',
  [AGENT_DETAIL_TYPES.runSummary]: 'run_summary',
  [SUPERVISOR_DETAIL_TYPES.health]: 'supervisor_health',
  [SUPERVISOR_DETAIL_TYPES.child]: 'supervisor_child',
  // The worker spools its own results under their payload_type (agent/worker/result-outbox.ts).
  [WORKER_DETAIL_TYPES.heartbeat]: 'worker_heartbeat',
  [WORKER_DETAIL_TYPES.result]: 'worker_result',
} as const;

/** A spooled body back as a bus event, validated (undefined when it is not one). */
export function toBusEvent(body: unknown): AgentBusEvent | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const { detailType, detail } = body as { detailType?: unknown; detail?: unknown };
  if (detailType === AGENT_DETAIL_TYPES.stall) {
    const parsed = runnerStallEventSchema.safeParse(detail);
    return parsed.success ? { detailType, detail: parsed.data } : undefined;
  }
  if (detailType === AGENT_DETAIL_TYPES.runSummary) {
    const parsed = runnerRunSummaryEventSchema.safeParse(detail);
    return parsed.success ? { detailType, detail: parsed.data } : undefined;
  }
  if (detailType === SUPERVISOR_DETAIL_TYPES.health) {
    const parsed = supervisorHealthEventSchema.safeParse(detail);
    return parsed.success ? { detailType, detail: parsed.data } : undefined;
  }
  if (detailType === SUPERVISOR_DETAIL_TYPES.child) {
    const parsed = supervisorChildEventSchema.safeParse(detail);
    return parsed.success ? { detailType, detail: parsed.data } : undefined;
  }
  if (detailType === WORKER_DETAIL_TYPES.heartbeat) {
    const parsed = workerHeartbeatEventSchema.safeParse(detail);
    return parsed.success ? { detailType, detail: parsed.data } : undefined;
  }
  if (detailType === WORKER_DETAIL_TYPES.result) {
    const parsed = workerResultEnvelopeSchema.safeParse(detail);
    return parsed.success ? { detailType, detail: parsed.data } : undefined;
  }
  return undefined;
}
