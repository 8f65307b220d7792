import { randomUUID } from 'node:crypto';
import { CreateQueueCommand, DeleteQueueCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoDbLifecycleStore } from '#adapters/dynamodb/lifecycle-store.js';
import type { CommandOutcome, RunRecord } from '#contracts/lifecycle.js';
import { workerTaskQueueName } from '#contracts/worker-contract.js';
import { completeRun } from '#core/lifecycle/run.js';
import { anEnvelope } from './factories.js';

/** Emulator helpers shared by the worker integration tests. */

/** One task lane per site on the SQS emulator, named as in AWS; `remove()` deletes them. */
export async function createSiteLanes(sqs: SQSClient, environment: string, sites: readonly string[]) {
  const urls: Record<string, string> = {};
  for (const site of sites) {
    const created = await sqs.send(
      new CreateQueueCommand({
        QueueName: workerTaskQueueName(environment, site),
        Attributes: { VisibilityTimeout: '30' },
      }),
    );
    urls[site] = created.QueueUrl ?? '';
  }
  return {
    urls,
    remove: () =>
      Promise.allSettled(
        Object.values(urls).map((QueueUrl) => sqs.send(new DeleteQueueCommand({ QueueUrl }))),
      ),
  };
}

/**
 * A run of an `agent.approval.decided` command in the lifecycle store, as its lane worker leaves
 * it: Reserved (attempt in progress), or finished as `action_delegated` — Running, waiting on
 * `taskId` until `deadlineAt` (default an hour after `now`), when a task id is given; Completed
 * (as runs were delegated before they waited on their result) without one.
 */
export async function aDelegatedRun(
  store: DynamoDbLifecycleStore,
  options: {
    readonly commandId?: string;
    readonly finished?: boolean;
    readonly now?: Date;
    readonly taskId?: string;
    readonly site?: string;
    readonly deadlineAt?: string;
  } = {},
): Promise<{ run: RunRecord; finish: () => Promise<RunRecord> }> {
  const now = options.now ?? new Date('2026-01-01T00:00:00.000Z');
  const envelope = anEnvelope({
    commandId: options.commandId ?? randomUUID(),
    commandType: 'agent.approval.decided',
    payload: {},
  });
  const attemptId = `attempt-${randomUUID()}`;
  const reserved = await store.reserveAttempt({
    envelope,
    attemptId,
    lockExpiresAt: now.getTime() + 60_000,
    expiresAt: Math.floor(now.getTime() / 1000) + 86_400,
    now,
  });
  if (reserved.outcome !== 'reserved') throw new Error('run exists already');
  const outcome: CommandOutcome =
    options.taskId === undefined
      ? {
          status: 'Completed',
          outcomeCode: 'action_delegated',
          rationale: 'delegated',
          result: { action: 'collect_facts' },
        }
      : {
          status: 'Running',
          outcomeCode: 'action_delegated',
          rationale: 'delegated',
          result: { action: 'collect_facts', taskId: options.taskId },
          delegation: {
            taskId: options.taskId,
            site: options.site ?? 'lab',
            deadlineAt: options.deadlineAt ?? new Date(now.getTime() + 3_600_000).toISOString(),
          },
        };
  const finish = async () => {
    const completed = completeRun(reserved.run, outcome, new Date(now.getTime() + 500));
    await store.saveAttemptResult(completed, attemptId);
    return completed;
  };
  if (options.finished === false) return { run: reserved.run, finish };
  return { run: await finish(), finish };
}
