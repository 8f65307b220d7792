import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createTaskQueue, queueDepth, sendTask, taskMessage } from './fixtures/worker-harness.js';
import { ENV, useWorkerStack } from './fixtures/worker-stack.js';

const stack = useWorkerStack();

describe('runlane-agent worker: two workers, one task', () => {
  it('exactly one of two racing worker processes executes a task delivered twice', async () => {
    const { sqs, plane } = stack;
    const site = 'race';
    const queueUrl = await createTaskQueue(sqs, ENV, site);
    const configs = await Promise.all(
      ['worker-a', 'worker-b'].map((workerId) =>
        stack.writeWorkerConfig({ site, queueUrl, name: workerId, extra: { workerId } }),
      ),
    );
    const workers = configs.map(({ config }) => stack.spawnWorker(config, ['--json']));
    // Both are polling before the tasks arrive.
    await Promise.all(workers.map((worker) => worker.waitForEvents('worker_registered', 1)));

    // SQS delivers at least once: each task's message arrives twice, and both workers take one copy.
    const markerFile = join(stack.dir, 'markers');
    const tasks = [1, 2, 3].map(() =>
      taskMessage(ENV, site, { kind: 'execute_script', script: 'marker', args: [markerFile] }),
    );
    for (const task of tasks) {
      await sendTask(sqs, queueUrl, task);
      await sendTask(sqs, queueUrl, task);
    }
    await plane.waitFor(
      () => plane.claims.filter((c) => tasks.some((t) => t.taskId === c.taskId)).length === 6,
      15_000,
      'six claims',
    );
    await plane.waitFor(
      () => plane.uniqueResults().filter((e) => tasks.some((t) => t.taskId === e.task_id)).length === 3,
      10_000,
      'three results',
    );
    // Every copy is deleted: the winner's after its result, the loser's on already_claimed.
    await plane.waitFor(
      () =>
        workers.reduce((n, w) => n + w.events().filter((e) => e.event === 'message_deleted').length, 0) === 6,
      10_000,
      'six deletions',
    );
    const exits = await Promise.all(workers.map((worker) => worker.stop('SIGTERM')));
    expect(exits.map((exit) => exit.status)).toEqual([0, 0]);

    // One marker line per task: each ran exactly once.
    const lines = (await readFile(markerFile, 'utf8')).trim().split('\n');
    expect(lines.map((line) => line.split(' ')[0]).sort()).toEqual(tasks.map((t) => t.taskId).sort());
    for (const task of tasks) {
      const claims = plane.claims.filter((c) => c.taskId === task.taskId);
      expect(claims.map((c) => c.status).sort()).toEqual([200, 409]);
      const results = plane.results.filter((r) => r.envelope.task_id === task.taskId);
      expect(results).toHaveLength(1);
      // The result comes from the worker that won the claim.
      expect(results[0]?.envelope.worker_id).toBe(claims.find((c) => c.status === 200)?.workerId);
    }
    // Both processes took part: each claimed at least one copy.
    const claimants = new Set(
      plane.claims.filter((c) => tasks.some((t) => t.taskId === c.taskId)).map((c) => c.workerId),
    );
    expect([...claimants].sort()).toEqual(['worker-a', 'worker-b']);
    const losers = workers.flatMap((worker) =>
      worker.events().filter((e) => e.event === 'task_already_claimed'),
    );
    expect(losers).toHaveLength(3);
    expect(await queueDepth(sqs, queueUrl)).toEqual({ visible: 0, inFlight: 0 });
  });
});
