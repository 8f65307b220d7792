import { randomUUID } from 'node:crypto';
import { ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqsWorkerTaskQueue } from '#adapters/sqs/worker-task-queue.js';
import { workerTaskMessageSchema } from '#contracts/worker-contract.js';
import { WorkerSiteNotConfiguredError } from '#core/workers/errors.js';
import { createTestEnvironment, type TestEnvironment } from '../support/test-environment.js';
import { aTaskMessage } from '../support/worker-fixtures.js';
import { createSiteLanes } from '../support/worker-integration.js';

/** `SqsWorkerTaskQueue` on the SQS emulator: one lane per site, named `runlane-<env>-worker-tasks-<site>`. */
describe('SqsWorkerTaskQueue on the SQS emulator', () => {
  let env: TestEnvironment<string>;
  let lanes: Awaited<ReturnType<typeof createSiteLanes>>;
  let environment: string;

  beforeAll(async () => {
    env = await createTestEnvironment({ lanes: [], table: false });
    environment = `q${randomUUID().slice(0, 8)}`;
    lanes = await createSiteLanes(env.sqs, environment, ['lab', 'edge']);
  });
  afterAll(async () => {
    await lanes?.remove();
    await env?.cleanup();
  });

  it('sends a task message to its site’s lane only, as the contract’s JSON', async () => {
    const queue = new SqsWorkerTaskQueue({ client: env.sqs, queueUrls: lanes.urls });
    const message = aTaskMessage({ environment, site: 'edge' });
    await queue.send(message);
    const received = await env.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: lanes.urls.edge, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }),
    );
    expect(received.Messages).toHaveLength(1);
    expect(workerTaskMessageSchema.parse(JSON.parse(received.Messages?.[0]?.Body ?? ''))).toEqual(message);
    const depth = await queue.depth();
    expect(depth).toEqual({ edge: { visible: 0, inFlight: 1 }, lab: { visible: 0, inFlight: 0 } });
  });

  it('reports visible messages per site', async () => {
    const queue = new SqsWorkerTaskQueue({ client: env.sqs, queueUrls: lanes.urls });
    await queue.send(aTaskMessage({ environment, site: 'lab' }));
    await queue.send(aTaskMessage({ environment, site: 'lab' }));
    expect((await queue.depth()).lab).toEqual({ visible: 2, inFlight: 0 });
  });

  it('refuses a site with no lane', async () => {
    const queue = new SqsWorkerTaskQueue({ client: env.sqs, queueUrls: lanes.urls });
    await expect(queue.send(aTaskMessage({ site: 'mars' }))).rejects.toThrow(WorkerSiteNotConfiguredError);
  });

  it('finds the lanes’ URLs by their names', async () => {
    expect(await SqsWorkerTaskQueue.resolveQueueUrls(env.sqs, environment, ['lab', 'edge'])).toEqual(
      lanes.urls,
    );
  });
});
