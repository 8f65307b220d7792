import { ENVELOPE_SCHEMA_VERSION } from './envelope.js';

/** Lane and command type of the nightly sweep, from the lane list. */
export const NIGHTLY_SWEEP_LANE = 'runtime-nightly-anomaly-sweep';
export const NIGHTLY_SWEEP_COMMAND_TYPE = 'anomaly.sweep';
/** Scheduled sweeps are not tied to a household. */
export const SYSTEM_HOUSEHOLD_ID = 'system';

/**
 * The envelope the nightly schedule enqueues. The CDK rule passes EventBridge
 * input-transformer tokens for `eventId` (a fresh UUID per scheduled event, so
 * each night is a new command) and `time`; the local scheduler passes real values.
 */
export function nightlySweepEnvelope(eventId: string, time: string): Record<string, unknown> {
  return {
    schemaVersion: ENVELOPE_SCHEMA_VERSION,
    commandId: eventId,
    commandType: NIGHTLY_SWEEP_COMMAND_TYPE,
    lane: NIGHTLY_SWEEP_LANE,
    correlationId: `sweep:${eventId}`,
    householdId: SYSTEM_HOUSEHOLD_ID,
    issuedAt: time,
    payload: { trigger: 'schedule' },
  };
}
