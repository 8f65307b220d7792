import { Logger } from '@aws-lambda-powertools/logger';
import type { ReplaySteps } from '#core/replay/steps.js';
import { awsClients } from '#wiring/clients.js';
import { buildReplaySteps } from '#wiring/replay.js';
import { optionalNumber, requireString } from './env.js';

/**
 * The ReplayDrill state machine's Task handler: `{ step, input }` → that step's
 * output (contracts/replay-drill.ts). One function serves every step.
 */
const lanes = JSON.parse(requireString('replayLaneQueues')) as Record<
  string,
  { queueUrl: string; dlqUrl: string }
>;
const steps = buildReplaySteps(
  {
    tableName: requireString('lifecycleTableName'),
    busName: requireString('telemetryBusName'),
    retentionDays: optionalNumber('retentionDays', 30),
    lanes,
  },
  awsClients(),
);
const logger = new Logger({ serviceName: 'runlane-replay-drill' });

export type ReplayStepName = keyof ReplaySteps;

export async function handler(event: { step: ReplayStepName; input: unknown }): Promise<unknown> {
  const step = steps[event.step] as ((input: unknown) => Promise<unknown>) | undefined;
  if (!step) throw new Error(`unknown replay drill step ${String(event.step)}`);
  logger.info('replay drill step', { step: event.step });
  return step(event.input);
}
