import * as z from 'zod';
import { SIGNAL_TYPES } from '#contracts/lifecycle.js';
import type { CommandDefinition } from './types.js';

export const ingestionCompletedPayloadSchema = z
  .object({
    source: z.string().min(1).max(128),
    batchId: z.string().min(1).max(128),
    recordsReceived: z.number().int().min(0),
    recordsImported: z.number().int().min(0),
    errorCount: z.number().int().min(0),
  })
  .strict()
  .refine((p) => p.recordsImported + p.errorCount <= p.recordsReceived, {
    message: 'recordsImported + errorCount cannot exceed recordsReceived',
    path: ['recordsReceived'],
  });

/**
 * `ingestion.completed`: records the batch (source, counts, errors) on the run;
 * an error ratio over the configured threshold raises a signal and puts the
 * run in the review queue.
 */
export const ingestionCompleted: CommandDefinition<typeof ingestionCompletedPayloadSchema> = {
  commandType: 'ingestion.completed',
  payloadSchema: ingestionCompletedPayloadSchema,
  async execute({ payload, deps }) {
    const errorRatio = payload.recordsReceived === 0 ? 0 : payload.errorCount / payload.recordsReceived;
    const threshold = deps.settings.ingestionErrorRatioThreshold;
    const result = {
      source: payload.source,
      batchId: payload.batchId,
      recordsReceived: payload.recordsReceived,
      recordsImported: payload.recordsImported,
      errorCount: payload.errorCount,
      errorRatio: Number(errorRatio.toFixed(4)),
    };
    if (errorRatio > threshold) {
      const rationale = `error ratio ${result.errorRatio} over threshold ${threshold} for ${payload.source}/${payload.batchId}`;
      return {
        status: 'NeedsReview',
        outcomeCode: SIGNAL_TYPES.ingestionErrorRatioExceeded,
        rationale,
        result,
        signals: [
          {
            type: SIGNAL_TYPES.ingestionErrorRatioExceeded,
            RequiresHumanReview: true,
            code: SIGNAL_TYPES.ingestionErrorRatioExceeded,
            rationale,
          },
        ],
      };
    }
    return {
      status: 'Completed',
      outcomeCode: 'ingestion_recorded',
      rationale: `${payload.recordsImported}/${payload.recordsReceived} imported from ${payload.source}`,
      result,
    };
  },
};
