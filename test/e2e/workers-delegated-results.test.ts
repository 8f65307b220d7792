import { createHash, randomUUID } from 'node:crypto';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { workerRoutePath } from '#contracts/api-routes.js';
import type { WorkerProcess } from '../agent/fixtures/worker-harness.js';
import { aHeartbeat } from '../support/worker-fixtures.js';
import { eventually, type RunView, startWorkerLocal, type WorkerLocal } from '../support/worker-local.js';
import { type ResultsProxy, startResultsProxy } from '../support/worker-local-proxy.js';

/**
 * Issue 16 item 5 on the local stack as `npm start` runs it: a delegated action's run stays
 * Running in its `delegated` stage until the worker's result is reconciled, a result that never
 * comes turns it NeedsReview (`worker_result_missing`) at its deadline, and a real
 * `runlane-agent worker` that can neither deliver nor spool a result keeps the message, claims
 * the task again when it comes back (`reclaimed`) and resends the result it kept — the task runs
 * once, the run ends Completed.
 *
 * The stack's result deadline is 1 s so the deadline test needs no long wait; nothing sweeps on
 * a timer here (the sweep runs only when a test asks), so a run whose result lands after that
 * second, before any sweep, still finishes from its result.
 */
const DEADLINE_SECONDS = 1;

describe('delegated actions finish honestly (local stack)', () => {
  let local: WorkerLocal;
  let proxy: ResultsProxy;

  beforeAll(async () => {
    local = await startWorkerLocal({
      workers: { sites: ['far', 'lab'], resultDeadlineSeconds: DEADLINE_SECONDS },
    });
    proxy = await startResultsProxy(local.stack.info.apiUrl);
  }, 60_000);
  afterAll(async () => {
    await local?.stop();
    await proxy?.stop();
  });

  const stagesOf = (run: RunView) =>
    run.stages.map((stage) => [
      stage.name,
      stage.outcomeCode,
      'endedAt' in stage && stage.endedAt !== undefined,
    ]);

  it('no result by the deadline: the sweep turns the run NeedsReview with worker_result_missing; the late claim loses', async () => {
    // A worker of site far is online (its heartbeat came through the API, signed as far-1) but never takes the task.
    const far1 = local.worker('far', 'far-1');
    const beat = await far1(
      'POST',
      workerRoutePath('postWorkerHeartbeat', 'far'),
      aHeartbeat({ environment: 'local', worker_id: 'far-1', site: 'far', ts: new Date().toISOString() }),
    );
    expect(beat.status).toBe(202);
    expect((await local.call('PUT', '/api/workers/delegation', { enabled: true })).status).toBe(200);

    const run = await local.approveMessage('collect facts on site far');
    const taskId = run.result?.taskId as string;
    expect(run.status).toBe('Running');
    expect(stagesOf(run)).toEqual([
      ['execute', 'action_delegated', true],
      ['delegated', undefined, false],
    ]);
    const task = await local.tasks.get(taskId);
    expect(task).toMatchObject({ status: 'queued', deadlineAt: expect.any(String) });
    const deadline = Date.parse(task?.deadlineAt ?? '');
    expect(deadline - Date.parse(task?.queuedAt ?? '')).toBe(DEADLINE_SECONDS * 1000);

    // (Before the deadline the sweep leaves a run alone: test/integration/worker-task-store.test.ts.)
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, deadline + 50 - Date.now())));

    const sweep = await local.call('POST', '/_local/worker-sweep');
    expect(sweep.status).toBe(200);
    expect((sweep.body as { deadlines: unknown }).deadlines).toMatchObject({
      expired: [{ commandId: run.commandId, taskId }],
      failed: 0,
    });
    const expired = await local.waitForRun(run.commandId);
    expect(expired.status).toBe('NeedsReview');
    expect(stagesOf(expired)).toEqual([
      ['execute', 'action_delegated', true],
      ['delegated', 'worker_result_missing', true],
    ]);
    expect(expired.signals).toContainEqual(
      expect.objectContaining({
        type: 'worker_result_missing',
        code: 'worker_result_missing',
        RequiresHumanReview: true,
      }),
    );
    const queue = await local.call('GET', '/api/v1/review-queue');
    expect((queue.body as { runs: { runId: string }[] }).runs.map((r) => r.runId)).toContain(run.commandId);
    expect(await local.tasks.get(taskId)).toMatchObject({
      status: 'failed',
      errorCode: 'worker_result_missing',
    });
    // A worker that shows up now does not start it.
    const late = await far1('POST', workerRoutePath('claimWorkerTask', 'far', taskId), {
      worker_id: 'far-1',
      site: 'far',
      attempt: 1,
    });
    expect(late).toMatchObject({ status: 409, body: { error: 'already_claimed', status: 'failed' } });
    // Nothing is overdue any more.
    const again = await local.call('POST', '/_local/worker-sweep');
    expect((again.body as { deadlines: { overdue: number } }).deadlines.overdue).toBe(0);
  });

  it('a result the worker could neither deliver nor spool: message kept, task reclaimed, result resent — run Completed, task run once', async () => {
    // A script whose result is larger than the worker's whole spool: it can never be spooled.
    const markers = join(local.dir, `markers-${randomUUID().slice(0, 8)}`);
    const big = join(local.dir, 'big.sh');
    await writeFile(
      big,
      '#!/bin/sh\necho "$RUNLANE_TASK_ID $$" >> "$MARKER_FILE"\nhead -c 90000 /dev/zero | tr "\\0" "x"\n',
    );
    await chmod(big, 0o755);
    const worker: WorkerProcess = await local.startWorker('lab', 'lab-resend', {
      apiUrl: proxy.url,
      visibilityTimeoutSeconds: 2,
      spoolMaxBytes: 65_536,
      scripts: {
        big: {
          path: big,
          sha256: createHash('sha256')
            .update(await readFile(big))
            .digest('hex'),
          timeoutMs: 30_000,
          maxOutputBytes: 98_304,
          env: { MARKER_FILE: markers },
        },
      },
    });
    const eventsOf = (name: string, taskId: string) =>
      worker.events().filter((e) => e.event === name && e.task_id === taskId);
    expect((await local.call('PUT', '/api/workers/delegation', { enabled: true })).status).toBe(200);

    // The control plane is unreachable for results: the result is lost to the worker's hand-over.
    proxy.setResults('down');
    const run = await local.approveMessage('run script big on lab');
    const taskId = run.result?.taskId as string;
    expect(run.result).toMatchObject({ kind: 'execute_script', site: 'lab' });
    await worker.waitForEvents('message_kept', 1, 20_000);
    expect(eventsOf('result_lost', taskId)).toEqual([
      expect.objectContaining({
        payload_type: 'execution_result',
        error: expect.stringContaining('SpoolEntryTooLargeError'),
      }),
    ]);
    const waiting = await local.waitForRun(run.commandId, () => true);
    expect(waiting.status).toBe('Running');
    expect(stagesOf(waiting).at(-1)).toEqual(['delegated', undefined, false]);
    expect(await local.tasks.get(taskId)).toMatchObject({ status: 'executing', claimedBy: 'lab-resend' });
    expect(eventsOf('message_deleted', taskId)).toEqual([]);

    // Back up: the kept message comes back (2 s visibility), the claim answers reclaimed, the result goes.
    proxy.setResults('pass');
    const done = await local.waitForResult(run.commandId, 20_000);
    expect(done.status).toBe('Completed');
    expect(stagesOf(done)).toEqual([
      ['execute', 'action_delegated', true],
      ['delegated', 'worker_task_succeeded', true],
    ]);
    await eventually(
      () => eventsOf('message_deleted', taskId),
      (deleted) => deleted.length === 1,
      'the task message deleted after the resend',
    );
    expect(eventsOf('task_claimed', taskId)).toHaveLength(1);
    expect(eventsOf('result_resent', taskId)).toEqual([expect.objectContaining({ envelopes: 1 })]);
    expect(eventsOf('script_executed', taskId)).toHaveLength(1);
    const ran = (await readFile(markers, 'utf8')).trim().split('\n');
    expect(ran.filter((line) => line.startsWith(taskId))).toHaveLength(1);
    // The result reached the control plane once (the resend is the one delivery) and was reconciled.
    const delivered = proxy.forwarded.filter(
      (f) => f.taskId === taskId && f.payloadType === 'execution_result',
    );
    expect(delivered).toEqual([
      expect.objectContaining({
        status: 202,
        body: expect.objectContaining({ duplicate: false, reconciled: true }),
      }),
    ]);
    const task = await local.tasks.get(taskId);
    expect(task).toMatchObject({ status: 'succeeded', claimedBy: 'lab-resend' });
    const history = await local.actions.history(task?.message.householdId ?? '');
    expect(history.filter((entry) => entry.commandId === run.commandId)).toEqual([
      expect.objectContaining({
        action: 'run_script',
        worker: expect.objectContaining({ status: 'succeeded' }),
      }),
    ]);
  });
});
