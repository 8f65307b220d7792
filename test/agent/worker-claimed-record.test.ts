import { describe, expect, it } from 'vitest';
import type { ExecutionResultPayload, WorkerResultEnvelope } from '#contracts/worker-contract.js';
import { sendTask, taskMessage } from './fixtures/worker-harness.js';
import { ENV, useWorkerStack } from './fixtures/worker-stack.js';

/**
 * Issue 18: the worker executes the task record the control plane returned with the claim
 * (`task.message`), never the raw queue body — anyone able to send to the queue could write one.
 */

const stack = useWorkerStack();

function resultOf(taskId: string): ExecutionResultPayload {
  const envelope = stack.plane
    .uniqueResults()
    .find((e) => e.task_id === taskId && e.payload_type === 'execution_result') as
    | Extract<WorkerResultEnvelope, { payload_type: 'execution_result' }>
    | undefined;
  if (envelope === undefined) throw new Error(`no execution_result for ${taskId}`);
  return envelope.payload;
}

describe('runlane-agent worker: the claimed record, not the queue body', () => {
  it('queue body and claimed record differ: the record runs; a record for another site or none at all runs nothing', async () => {
    const { sqs, plane } = stack;
    const site = 'record';
    const { queueUrl, config } = await stack.setUpSite(site);
    const differs = taskMessage(ENV, site, {
      kind: 'execute_action',
      plugin: 'echo',
      parameters: { said: 'from-the-queue' },
    });
    const otherSite = taskMessage(ENV, site, {
      kind: 'execute_action',
      plugin: 'echo',
      parameters: { said: 'q2' },
    });
    const missing = taskMessage(ENV, site, {
      kind: 'execute_action',
      plugin: 'echo',
      parameters: { said: 'q3' },
    });
    for (const task of [differs, otherSite, missing]) await sendTask(sqs, queueUrl, task);
    plane.setTaskRecord(differs.taskId, {
      ...differs,
      input: { kind: 'execute_action', plugin: 'echo', parameters: { said: 'from-the-record' } },
    });
    plane.setTaskRecord(otherSite.taskId, { ...otherSite, site: 'elsewhere' });
    plane.setTaskRecord(missing.taskId, undefined);

    const worker = stack.spawnWorker(config, ['--json']);
    const ids = new Set([differs.taskId, otherSite.taskId, missing.taskId]);
    await plane.waitFor(
      () =>
        plane.uniqueResults().filter((e) => ids.has(e.task_id ?? '') && e.payload_type === 'execution_result')
          .length === 3,
      20_000,
      '3 execution results',
    );
    await worker.waitForEvents('message_deleted', 3);
    await worker.stop('SIGTERM');

    const ran = resultOf(differs.taskId);
    expect(ran.status).toBe('succeeded');
    expect(JSON.stringify(ran.output)).toContain('from-the-record');
    expect(JSON.stringify(ran.output)).not.toContain('from-the-queue');
    for (const refused of [otherSite, missing]) {
      expect(resultOf(refused.taskId)).toMatchObject({ status: 'failed', errorCode: 'invalid_task_record' });
      expect(resultOf(refused.taskId).output).toBeUndefined();
    }
    const problems = worker
      .events()
      .filter((e) => e.event === 'task_record_invalid')
      .map((e) => [e.task_id, e.problem]);
    expect(problems).toEqual(
      expect.arrayContaining([
        [otherSite.taskId, `the claimed task record's site is "elsewhere", not "${site}"`],
        [missing.taskId, 'the claim answer carried no task record (task.message)'],
      ]),
    );
    expect(worker.events().filter((e) => e.event === 'plugin_executed')).toHaveLength(1);
  });
});
