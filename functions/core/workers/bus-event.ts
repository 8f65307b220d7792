import { AGENT_EVENT_SOURCE } from '#contracts/agent-events.js';
import { isRecord, safeStringify, stringField } from '../base/bus-event-fields.js';
import type { RunnerEventDeadLetter } from '../runner/ports.js';

/**
 * The EventBridge envelope of a worker event, before its detail is read: what the worker event
 * ingest refuses on the envelope alone, and the dead letter it sends for any refused event.
 */

/** Why an envelope is refused: no EventBridge event at all, or not from `runlane.agent`. */
export type WorkerBusEventRejectReason = 'invalid_event' | 'unknown_detail_type';

export type ParsedWorkerBusEvent =
  | { readonly outcome: 'valid'; readonly detailType: string; readonly detail: unknown }
  | { readonly outcome: 'rejected'; readonly reason: WorkerBusEventRejectReason; readonly rationale: string };

/**
 * Checks the envelope: an object with a string `detail-type` and a `detail`, from `runlane.agent`.
 * The detail type and detail are not checked here (`ingestWorkerEvent` does).
 *
 * @example
 * parseWorkerBusEvent({ source: 'runlane.agent', 'detail-type': 'WorkerHeartbeat', detail: {} });
 * // { outcome: 'valid', detailType: 'WorkerHeartbeat', detail: {} }
 * parseWorkerBusEvent('x'); // { outcome: 'rejected', reason: 'invalid_event', rationale: '(root): …' }
 */
export function parseWorkerBusEvent(event: unknown): ParsedWorkerBusEvent {
  const detailType = isRecord(event) ? event['detail-type'] : undefined;
  if (!isRecord(event) || typeof detailType !== 'string' || event.detail === undefined) {
    return {
      outcome: 'rejected',
      reason: 'invalid_event',
      rationale: '(root): not an EventBridge event with detail-type and detail',
    };
  }
  if (event.source !== AGENT_EVENT_SOURCE) {
    return {
      outcome: 'rejected',
      reason: 'unknown_detail_type',
      rationale: `source: "${String(event.source)}" is not ${AGENT_EVENT_SOURCE}`,
    };
  }
  return { outcome: 'valid', detailType, detail: event.detail };
}

/**
 * The dead letter of a refused event: the event as JSON, the reason and rationale, and the
 * `detail-type`, bus event id and `detail.id` where the event has them as non-empty strings.
 *
 * @example
 * workerEventDeadLetter(event, 'unknown_task', 'detail.task_id: no task t-1');
 * // { body: '{…}', reason: 'unknown_task', rationale: '…', detailType: 'WorkerResult', busEventId: '…', eventId: '…' }
 */
export function workerEventDeadLetter(
  event: unknown,
  reason: string,
  rationale: string,
): RunnerEventDeadLetter {
  const envelope = isRecord(event) ? event : undefined;
  const detail = isRecord(envelope?.detail) ? envelope.detail : undefined;
  return {
    body: safeStringify(event),
    reason,
    rationale,
    ...stringField('detailType', envelope?.['detail-type']),
    ...stringField('busEventId', envelope?.id),
    ...stringField('eventId', detail?.id),
  };
}
