import { describe, expect, it, vi } from 'vitest';
import {
  WORKER_DETAIL_TYPES,
  workerHeartbeatEventSchema,
  workerResultEnvelopeSchema,
} from '#contracts/worker-contract.js';
import { queueDepth, sendTask, spoolFiles, taskMessage } from './fixtures/worker-harness.js';
import { ENV, useWorkerStack } from './fixtures/worker-stack.js';

const stack = useWorkerStack({ eventBus: true });

describe('runlane-agent worker: transport bus', () => {
  it('claims through the API, sends results and heartbeats to the bus, spools what the bus does not acknowledge', async () => {
    const { sqs, plane, bus } = stack;
    const site = 'bus';
    const { queueUrl, spoolDirectory, config } = await stack.setUpSite(site, {
      extra: { transport: 'bus', reporting: { maxAttempts: 1, requestTimeoutMs: 5_000 } },
    });
    const facts = taskMessage(ENV, site, { kind: 'collect_facts', facts: ['hostname'] });
    await sendTask(sqs, queueUrl, facts);
    const worker = stack.spawnWorker(config, ['--json'], { AWS_ENDPOINT_URL_EVENTBRIDGE: bus.endpoint });
    await worker.waitForEvents('message_deleted', 1);
    await worker.waitForEvents('worker_registered', 1);

    const results = bus.accepted.filter((entry) => entry.detailType === WORKER_DETAIL_TYPES.result);
    expect(results.map((entry) => [entry.source, entry.eventBusName, entry.detail.payload_type])).toEqual([
      ['runlane.agent', 'runlane-test-telemetry', 'facts'],
      ['runlane.agent', 'runlane-test-telemetry', 'execution_result'],
    ]);
    for (const entry of results)
      expect(workerResultEnvelopeSchema.parse(entry.detail).task_id).toBe(facts.taskId);
    const registration = bus.accepted.find((entry) => entry.detailType === WORKER_DETAIL_TYPES.heartbeat);
    expect(workerHeartbeatEventSchema.parse(registration?.detail)).toMatchObject({
      kind: 'registration',
      worker_id: 'worker-a',
      site,
      capabilities: {
        kinds: ['collect_facts', 'execute_script', 'execute_action'],
        scripts: ['chatty', 'echo', 'marker', 'tree'],
        plugins: ['disk_usage', 'echo'],
      },
    });
    expect(plane.claims.map((c) => c.taskId)).toEqual([facts.taskId]);
    expect(plane.results).toEqual([]); // nothing went to the API's results endpoint

    // The bus fails: the result is spooled (and the message deleted); once it answers again, replayed.
    bus.behave('fail500');
    const action = taskMessage(ENV, site, { kind: 'execute_action', plugin: 'echo', parameters: { x: 1 } });
    await sendTask(sqs, queueUrl, action);
    await worker.waitForEvents('message_deleted', 2);
    expect(await spoolFiles(spoolDirectory)).toEqual([
      expect.stringMatching(new RegExp(`^execution_result-\\d{13}-${action.taskId}\\.json$`)),
    ]);
    bus.behave('accept');
    await plane.waitFor(
      () => bus.accepted.some((entry) => entry.detail.task_id === action.taskId),
      5_000,
      'the replayed result on the bus',
    );
    await worker.waitForEvents('result_replayed', 1);
    // The outbox logs result_replayed per envelope and removes the file once the round ends: poll for it.
    await vi.waitFor(async () => expect(await spoolFiles(spoolDirectory)).toEqual([]), { timeout: 5_000 });
    expect(await queueDepth(sqs, queueUrl)).toEqual({ visible: 0, inFlight: 0 });
    expect((await worker.stop('SIGTERM')).status).toBe(0);
  });
});
