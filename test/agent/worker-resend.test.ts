import { describe, expect, it } from 'vitest';
import { WorkerApiClient } from '#agent/worker/api-client.js';
import { FAKE_CREDENTIALS, FAKE_REGION } from './fixtures/worker-control-plane.js';
import { fixture, pinned, queueDepth, sendTask, taskMessage } from './fixtures/worker-harness.js';
import { ENV, useWorkerStack } from './fixtures/worker-stack.js';

const stack = useWorkerStack();

/**
 * `runlane-agent worker`'s "keep the message and resend" path against the SQS emulator and the
 * fake control plane (which answers a claimant's repeated claim 200 `reclaimed`, as the real one
 * does): a result that can be neither delivered nor spooled stays in memory with its message; when
 * the message comes back the worker resends it, never running the task twice.
 */
describe('runlane-agent worker: resend after a failed hand-over', () => {
  it('keeps the message of a result it could neither deliver nor spool, and resends the result on the reclaim', async () => {
    const { sqs, plane } = stack;
    const site = 'resend';
    const { queueUrl, config } = await stack.setUpSite(site, {
      visibilityTimeoutSeconds: 2,
      extra: {
        visibilityTimeoutSeconds: 2,
        // 100,000 bytes of output: a result larger than the whole spool can never be spooled.
        spoolMaxBytes: 65_536,
        scripts: { big: pinned(fixture('worker-chatty.sh'), { timeoutMs: 10_000, maxOutputBytes: 98_304 }) },
      },
    });
    const task = taskMessage(ENV, site, { kind: 'execute_script', script: 'big', args: [] });
    plane.setMode('results', 'down');
    await sendTask(sqs, queueUrl, task);
    const worker = stack.spawnWorker(config, ['--json']);
    const eventsOf = (name: string) =>
      worker.events().filter((e) => e.event === name && e.task_id === task.taskId);
    try {
      await worker.waitForEvents('message_kept', 1, 20_000);
      expect(eventsOf('result_lost')).toEqual([
        expect.objectContaining({
          payload_type: 'execution_result',
          error: expect.stringContaining('SpoolEntryTooLargeError'),
        }),
      ]);
      expect(eventsOf('message_deleted')).toEqual([]);
      const kept = await queueDepth(sqs, queueUrl);
      expect(kept.visible + kept.inFlight).toBe(1);

      plane.setMode('results', 'up');
      await plane.waitFor(
        () =>
          plane
            .uniqueResults()
            .some((e) => e.task_id === task.taskId && e.payload_type === 'execution_result'),
        20_000,
        'the resent execution_result',
      );
      await worker.waitForEvents('message_deleted', 1, 10_000);

      // Claimed, then reclaimed by the same worker when the kept message came back; run once.
      expect(plane.claims.filter((c) => c.taskId === task.taskId).map((c) => [c.workerId, c.status])).toEqual(
        [
          ['worker-a', 200],
          ['worker-a', 200],
        ],
      );
      expect(eventsOf('task_claimed')).toHaveLength(1);
      expect(eventsOf('script_executed')).toHaveLength(1);
      expect(eventsOf('result_resent')).toEqual([expect.objectContaining({ envelopes: 1 })]);
      expect(eventsOf('task_reclaimed_without_result')).toEqual([]);
      const resent = plane.results.filter((r) => r.envelope.task_id === task.taskId);
      expect(resent.map((r) => r.duplicate)).toEqual([false]);
      expect(await queueDepth(sqs, queueUrl)).toEqual({ visible: 0, inFlight: 0 });
    } finally {
      plane.setMode('results', 'up');
      await worker.stop('SIGTERM');
    }
  });

  it('deletes a reclaimed message it kept no result for, without running the task again', async () => {
    const { sqs, plane } = stack;
    const site = 'reclaim';
    const { queueUrl, config } = await stack.setUpSite(site);
    const task = taskMessage(ENV, site, { kind: 'execute_script', script: 'echo', args: ['once'] });
    // This worker (worker-a) claimed it before — a previous run of the agent, or another copy whose
    // result is in the spool: the control plane answers its claim `reclaimed`.
    const api = new WorkerApiClient({
      baseUrl: plane.url,
      region: async () => FAKE_REGION,
      credentials: async () => FAKE_CREDENTIALS,
      timeoutMs: 2_000,
    });
    expect(await api.claim(task.taskId, { worker_id: 'worker-a', site, attempt: 1 })).toEqual({
      outcome: 'claimed',
    });
    await sendTask(sqs, queueUrl, task);
    const worker = stack.spawnWorker(config, ['--json']);
    try {
      await worker.waitForEvents('message_deleted', 1, 20_000);
      const events = worker.events().filter((e) => e.task_id === task.taskId);
      expect(events.map((e) => e.event)).toEqual(['task_reclaimed_without_result', 'message_deleted']);
      expect(plane.uniqueResults().filter((e) => e.task_id === task.taskId)).toEqual([]);
      expect(await queueDepth(sqs, queueUrl)).toEqual({ visible: 0, inFlight: 0 });
    } finally {
      await worker.stop('SIGTERM');
    }
  });
});
