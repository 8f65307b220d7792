import * as z from 'zod';
import { type DomainRecord, type RunRecord, SIGNAL_TYPES, type Signal } from '#contracts/lifecycle.js';
import type { CommandDefinition } from './types.js';

export const anomalySweepPayloadSchema = z
  .object({ trigger: z.enum(['schedule', 'manual']).default('schedule') })
  .strict();

/**
 * `anomaly.sweep`: finds runs stuck in Running past a threshold, Reserved keys
 * whose attempt lock has expired, and NeedsReview runs older than N hours.
 * One signal per finding (stored beside the sweep's run) plus a summary.
 */
export const anomalySweep: CommandDefinition<typeof anomalySweepPayloadSchema> = {
  commandType: 'anomaly.sweep',
  payloadSchema: anomalySweepPayloadSchema,
  async execute({ envelope, now, attempt, deps }) {
    const { stuckRunningMinutes, staleReviewHours } = deps.settings;
    const findings = await deps.lifecycle.scanForAnomalies({
      nowMs: now.getTime(),
      stuckRunningBefore: new Date(now.getTime() - stuckRunningMinutes * 60_000).toISOString(),
      staleReviewBefore: new Date(now.getTime() - staleReviewHours * 3_600_000).toISOString(),
    });
    const at = now.toISOString();
    const toSignal = (type: string, run: RunRecord, rationale: string): Signal => ({
      type,
      RequiresHumanReview: true,
      code: run.commandId,
      rationale,
      raisedAt: at,
      attempt,
    });
    const signals: Signal[] = [
      ...findings.stuckRunning.map((run) =>
        toSignal(SIGNAL_TYPES.anomalyStuckRun, run, `run ${run.runId} Running since ${run.createdAt}`),
      ),
      ...findings.expiredAttemptLocks.map((run) =>
        toSignal(
          SIGNAL_TYPES.anomalyExpiredAttemptLock,
          run,
          `key ${run.commandId} Reserved, lock expired at ${new Date(run.lockExpiresAt ?? 0).toISOString()}`,
        ),
      ),
      ...findings.staleReviews.map((run) =>
        toSignal(
          SIGNAL_TYPES.anomalyStaleReview,
          run,
          `run ${run.runId} NeedsReview since ${run.needsReviewSince}`,
        ),
      ),
    ];
    const records: DomainRecord[] = signals.map((signal, index) => ({
      kind: 'findingSignal',
      runId: envelope.commandId,
      index,
      signal,
    }));
    const summary = {
      scanned: findings.scanned,
      stuckRunning: findings.stuckRunning.length,
      expiredAttemptLocks: findings.expiredAttemptLocks.length,
      staleReviews: findings.staleReviews.length,
    };
    return {
      status: 'Completed',
      outcomeCode: signals.length > 0 ? 'anomalies_found' : 'no_anomalies',
      rationale: `${signals.length} finding(s) over ${findings.scanned} item(s)`,
      result: summary,
      signals: [
        {
          type: SIGNAL_TYPES.anomalySweepSummary,
          RequiresHumanReview: signals.length > 0,
          code: signals.length > 0 ? 'anomalies_found' : 'no_anomalies',
          rationale: JSON.stringify(summary),
        },
      ],
      records,
    };
  },
};
