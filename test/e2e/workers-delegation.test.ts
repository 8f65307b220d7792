import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AGENT_EVENT_SOURCE } from '#contracts/agent-events.js';
import { WORKER_DETAIL_TYPES } from '#contracts/worker-contract.js';
import { localEventBridgeClient, localSqsClient } from '#local/emulators/clients.js';
import type { WorkerProcess } from '../agent/fixtures/worker-harness.js';
import { runRunlaneBin } from '../support/local-cli.js';
import { eventually, type RunView, startWorkerLocal, type WorkerLocal } from '../support/worker-local.js';

/**
 * Worker delegation on the local stack with real `runlane-agent worker` processes and the real
 * `runlane` CLI: the switch (off by default, refused while no worker is online), two workers
 * racing for one task, a script outside the host's allowlist, and the CLIs' usage.
 */
describe('worker delegation (local stack, real worker processes, runlane workers)', () => {
  let local: WorkerLocal;
  const workers: WorkerProcess[] = [];

  beforeAll(async () => {
    local = await startWorkerLocal({ workers: { sites: ['bus', 'lab'], heartbeatStaleMultiple: 5 } });
  }, 60_000);
  afterAll(async () => {
    await local?.stop();
  });

  const reconciled = (run: RunView) => local.waitForResult(run.commandId);
  const eventsFor = (name: string, taskId: string): Record<string, unknown>[] =>
    workers.flatMap((worker) =>
      worker
        .events()
        .filter((e) => e.event === name && e.task_id === taskId)
        .map((e) => ({ ...e, worker: worker.events().find((s) => s.event === 'worker_started')?.worker_id })),
    );

  it('delegation refuses to turn on with no worker online, then turns on after a heartbeat', async () => {
    const refused = await local.runlane('workers', 'delegation', 'on');
    expect(refused.status).toBe(1);
    expect(refused.stdout).toBe('');
    expect(refused.stderr).toContain('refused — no_worker_online: no worker is online');
    expect(refused.stderr).toContain('(it stays off)');
    // Off (WORKER_DELEGATION_ENABLED default false): an approved host action runs in-process, no task.
    const inProcess = await local.approveMessage('collect facts on site lab');
    expect(inProcess).toMatchObject({ status: 'Completed', result: { executedNow: true } });
    expect(inProcess.stages.at(-1)).toMatchObject({ outcomeCode: 'action_executed' });

    workers.push(
      ...(await Promise.all([local.startWorker('lab', 'lab-a'), local.startWorker('lab', 'lab-b')])),
    );
    const [switched, health] = await Promise.all([
      local.runlane('workers', 'delegation', 'on', '--changed-by', 'alice'),
      local.runlane('workers', 'health', '--json'),
    ]);
    expect(switched.stderr).toBe('');
    expect(switched.status).toBe(0);
    // Who switched it is the proven caller (the local operator's signature), not --changed-by (a note in the log).
    expect(switched.stdout).toMatch(
      /^Worker delegation is on \(switched \S+ by arn:aws:iam::000000000000:user\/runlane-local-operator\); 2 workers online\.\n$/,
    );
    expect(health.status).toBe(0);
    expect(
      JSON.parse(health.stdout).workers.map((w: { worker_id: string; status: string }) => [
        w.worker_id,
        w.status,
      ]),
    ).toEqual([
      ['lab-a', 'online'],
      ['lab-b', 'online'],
    ]);
    const shown = await local.runlane('workers', 'delegation', '--json');
    expect(JSON.parse(shown.stdout)).toMatchObject({
      enabled: true,
      source: 'flag',
      changed_by: 'arn:aws:iam::000000000000:user/runlane-local-operator',
      online_workers: 2,
    });
  });

  it('two workers racing for one task: exactly one executes it', async () => {
    const run = await local.approveMessage('run script marker on lab');
    const taskId = run.result?.taskId as string;
    expect(run.result).toMatchObject({ kind: 'execute_script', site: 'lab' });
    // SQS delivers at least once: a second copy of the task's message reaches the other worker
    // while the first one is still running the script.
    await local.redeliver(taskId);
    const done = await reconciled(run);
    expect(done.status).toBe('Completed');
    await eventually(
      () => eventsFor('message_deleted', taskId),
      (deleted) => deleted.length === 2,
      'both copies deleted',
    );

    const claimed = eventsFor('task_claimed', taskId);
    const lost = eventsFor('task_already_claimed', taskId);
    expect(claimed).toHaveLength(1);
    expect(lost).toEqual([expect.objectContaining({ claimed_by: claimed[0]?.worker })]);
    expect(lost[0]?.worker).not.toBe(claimed[0]?.worker);
    const markers = (await readFile(join(local.dir, 'markers'), 'utf8')).trim().split('\n');
    expect(markers.filter((line) => line.startsWith(taskId))).toHaveLength(1);
    expect(await local.tasks.get(taskId)).toMatchObject({
      status: 'succeeded',
      claimedBy: claimed[0]?.worker,
    });
    const householdId = (await local.tasks.get(taskId))?.message.householdId ?? '';
    expect(await local.actions.history(householdId)).toHaveLength(1);
  });

  it('a script not on the allowlist is refused: failed task, run NeedsReview with worker_task_failed', async () => {
    const run = await local.approveMessage('run script wipe-disk on lab');
    const taskId = run.result?.taskId as string;
    const done = await reconciled(run);

    expect(done.status).toBe('NeedsReview');
    expect(done.stages.at(-1)).toMatchObject({ name: 'delegated', outcomeCode: 'worker_task_failed' });
    expect(done.signals).toContainEqual(
      expect.objectContaining({
        type: 'worker_task_failed',
        code: 'script_not_allowed',
        RequiresHumanReview: true,
      }),
    );
    expect(await local.tasks.get(taskId)).toMatchObject({
      status: 'failed',
      errorCode: 'script_not_allowed',
    });
    expect((await local.storedResult(taskId, 'execution_result'))?.payload).toMatchObject({
      status: 'failed',
      errorCode: 'script_not_allowed',
    });
    // Refused on the host: nothing was spawned.
    expect(eventsFor('task_finished', taskId)).toEqual([
      expect.objectContaining({ status: 'failed', error_code: 'script_not_allowed' }),
    ]);
    expect(eventsFor('script_executed', taskId)).toEqual([]);
    const queue = await local.call('GET', '/api/v1/review-queue');
    expect((queue.body as { runs: { runId: string }[] }).runs.map((r) => r.runId)).toContain(done.commandId);
  });

  it('a worker on the bus transport: its heartbeats and results reach the worker ingest through the local bus', async () => {
    // A site of its own: a stopped worker's cancelled long poll may still take a message on the
    // emulator (it then stays invisible for the visibility timeout), so no worker is stopped here.
    const busWorker = await local.startWorker('bus', 'bus-1', { transport: 'bus' });
    workers.push(busWorker);
    const registered = busWorker.events().find((e) => e.event === 'worker_registered');
    expect(registered?.via).toBe(`bus ${local.stack.info.busName}`);
    // The bus acknowledges before its rule's target has run (as EventBridge does): wait for the registry.
    await eventually(
      () => local.health(),
      (health) => health.workers.some((w) => w.worker_id === 'bus-1' && w.status === 'online'),
      'bus-1 online through the bus',
    );

    const run = await local.approveMessage('collect facts on site bus');
    const done = await reconciled(run);
    expect(done.status).toBe('Completed');
    expect(done.stages.at(-1)).toMatchObject({ name: 'delegated', outcomeCode: 'worker_task_succeeded' });
    const taskId = run.result?.taskId as string;
    expect(await local.tasks.get(taskId)).toMatchObject({ status: 'succeeded', claimedBy: 'bus-1' });
    await eventually(
      () => eventsFor('result_delivered', taskId).map((e) => e.payload_type),
      (types) => types.join() === 'facts,execution_result',
      'facts and execution_result acknowledged by the bus',
    );

    // An event the ingest refuses goes to the worker events DLQ with its reason.
    const sender = localEventBridgeClient(local.stack.info.eventsEndpoint);
    const stranger = {
      ...((await local.storedResult(taskId, 'facts')) ?? {}),
      id: randomUUID(),
      task_id: randomUUID(),
    };
    await sender.send(
      new PutEventsCommand({
        Entries: [
          {
            Source: AGENT_EVENT_SOURCE,
            DetailType: WORKER_DETAIL_TYPES.result,
            Detail: JSON.stringify(stranger),
            EventBusName: local.stack.info.busName,
          },
        ],
      }),
    );
    sender.destroy();
    const sqs = localSqsClient(local.stack.info.sqsEndpoint);
    const letters = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: local.stack.info.workers.eventsDeadLetterQueueUrl,
        MessageAttributeNames: ['All'],
        WaitTimeSeconds: 5,
      }),
    );
    sqs.destroy();
    expect(letters.Messages?.map((m) => m.MessageAttributes?.reason?.StringValue)).toEqual(['unknown_task']);

    // A planned stop (the last test of site bus): SIGTERM sends a deregistration over the bus, and the
    // worker shows stopped, not offline — counted in neither by the sweep, no exit 1 from the CLI.
    const exit = await busWorker.stop('SIGTERM');
    expect(exit.status).toBe(0);
    expect(busWorker.events().find((e) => e.event === 'worker_deregistered')?.via).toBe(
      `bus ${local.stack.info.busName}`,
    );
    const stopped = await eventually(
      () => local.health(),
      (health) => health.workers.some((w) => w.worker_id === 'bus-1' && w.status === 'stopped'),
      'bus-1 stopped through the bus',
    );
    expect(stopped.workers.find((w) => w.worker_id === 'bus-1')).toMatchObject({
      stopped_at: expect.any(String),
    });
    const sweep = await local.call('POST', '/_local/worker-sweep');
    expect(sweep.body).toMatchObject({ counts: { offline: 0, stopped: 1 }, offline: [] });
    const cli = await local.runlane('workers', 'health');
    expect(cli.status).toBe(0);
    expect(
      cli.stdout
        .split('\n')
        .find((line) => line.startsWith('bus-1'))
        ?.split(/\s{2,}/)[3],
    ).toBe('STOPPED');
    expect(cli.stdout).toContain('STOPPED: bus-1');
  });

  it('runlane workers and runlane tasks: --help, and exit 2 on bad usage', async () => {
    const [workersHelp, tasksHelp, unknown, badSwitch, badMinutes, noCommand] = await Promise.all([
      local.runlane('workers', '--help'),
      local.runlane('tasks', 'stuck', '--help'),
      local.runlane('workers', 'restart'),
      local.runlane('workers', 'delegation', 'maybe'),
      local.runlane('tasks', 'stuck', '--minutes', '-3'),
      runRunlaneBin(['tasks']),
    ]);
    expect(workersHelp).toMatchObject({ status: 0, stderr: '' });
    expect(workersHelp.stdout).toContain('runlane workers health [--api-url <url>] [--env <env>] [--json]');
    expect(workersHelp.stdout).toContain('409 no_worker_online');
    expect(tasksHelp).toMatchObject({ status: 0, stderr: '' });
    expect(tasksHelp.stdout).toContain(
      'runlane tasks stuck [--api-url <url>] [--env <env>] [--minutes <n>] [--json]',
    );
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toContain("unknown command 'restart'");
    expect(badSwitch.status).toBe(2);
    expect(badSwitch.stderr).toContain(
      "value 'maybe' is invalid for argument 'state'. Allowed choices are on, off",
    );
    expect(badMinutes.status).toBe(2);
    expect(noCommand.status).toBe(2);
    expect(noCommand.stderr).toContain('runlane tasks stuck [');
  });
});
