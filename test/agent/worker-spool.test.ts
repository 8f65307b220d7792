import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { encodeSpoolRecord, formatSpoolFileName, loadSpoolKey } from '#agent/spool/index.js';
import type { WorkerResultEnvelope } from '#contracts/worker-contract.js';
import { queueDepth, sendTask, spawnAgent, spoolFiles, taskMessage } from './fixtures/worker-harness.js';
import { ENV, useWorkerStack } from './fixtures/worker-stack.js';

const stack = useWorkerStack();
// Tests here switch the control plane's endpoints off; each starts with them answering.
beforeEach(() => {
  stack.plane.setMode('all', 'up');
  stack.plane.onResult = undefined;
});

/** A spool file as the worker writes it, placed by hand. */
async function placeSpoolFile(
  directory: string,
  payloadType: string,
  id: string,
  body: unknown,
  timestamp: number,
): Promise<string> {
  await mkdir(directory, { recursive: true, mode: 0o700 });
  const key = await loadSpoolKey(`${directory}.key`); // the worker's key (made here when it has not started yet)
  const fileName = formatSpoolFileName({ payloadType, timestamp, id });
  await writeFile(join(directory, fileName), encodeSpoolRecord({ payloadType, timestamp, id, body }, key));
  return fileName;
}

describe('runlane-agent worker: offline spool', () => {
  it('spools results while the control plane is down, replays them newest first once it is back, deleting each only after its ack', async () => {
    const { sqs, plane } = stack;
    const site = 'offline';
    const { queueUrl, spoolDirectory, config } = await stack.setUpSite(site);
    plane.setMode('results', 'fail500');
    const tasks = [1, 2, 3].map((n) =>
      taskMessage(ENV, site, { kind: 'execute_action', plugin: 'echo', parameters: { n } }),
    );
    for (const task of tasks) await sendTask(sqs, queueUrl, task);
    const worker = stack.spawnWorker(config, ['--json']);

    // Each result is durably spooled, so each message is deleted.
    await worker.waitForEvents('message_deleted', 3);
    expect(await queueDepth(sqs, queueUrl)).toEqual({ visible: 0, inFlight: 0 });
    const files = await spoolFiles(spoolDirectory);
    expect(files).toHaveLength(3);
    for (const task of tasks) {
      expect(
        files.some((name) => new RegExp(`^execution_result-\\d{13}-${task.taskId}\\.json$`).test(name)),
      ).toBe(true);
    }
    expect(plane.results.filter((r) => tasks.some((t) => t.taskId === r.envelope.task_id))).toEqual([]);

    // Now the connection drops instead: still nothing is lost or deleted.
    plane.setMode('results', 'down');
    await worker.waitForEvents('result_replay_failed', 2);
    expect(await spoolFiles(spoolDirectory)).toEqual(files);

    // The heartbeat carries the backlog.
    const bytes = (await Promise.all(files.map((name) => stat(join(spoolDirectory, name))))).reduce(
      (sum, s) => sum + s.size,
      0,
    );
    await plane.waitFor(
      () => plane.heartbeats.some((h) => h.site === site && h.offline_backlog.files === 3),
      5_000,
      'a heartbeat with the backlog',
    );
    expect(
      plane.heartbeats.find((h) => h.site === site && h.offline_backlog.files === 3)?.offline_backlog,
    ).toEqual({
      files: 3,
      bytes,
    });

    // Back up: each file still exists when its envelope arrives, and is gone after the ack.
    const presentOnArrival: boolean[] = [];
    plane.onResult = (envelope) => {
      const name = files.find((file) => file.includes(envelope.task_id ?? '-'));
      presentOnArrival.push(name !== undefined && existsSync(join(spoolDirectory, name)));
    };
    plane.setMode('results', 'up');
    await plane.waitFor(() => presentOnArrival.length >= 3, 5_000, 'the replayed results');
    await plane.waitFor(
      () => existsSync(spoolDirectory) && files.every((f) => !existsSync(join(spoolDirectory, f))),
    );

    const arrived = plane.results.filter((r) => tasks.some((t) => t.taskId === r.envelope.task_id));
    expect(arrived.map((r) => r.duplicate)).toEqual([false, false, false]);
    // Newest first: the file names' timestamps, descending.
    const newestFirst = [...files]
      .sort((a, b) => Number(b.split('-')[1]) - Number(a.split('-')[1]))
      .map((name) => name.slice('execution_result-0000000000000-'.length, -'.json'.length));
    expect(arrived.map((r) => r.envelope.task_id)).toEqual(newestFirst);
    expect(presentOnArrival).toEqual([true, true, true]);
    expect(arrived.map((r) => r.envelope.payload_type)).toEqual([
      'execution_result',
      'execution_result',
      'execution_result',
    ]);

    // The next heartbeat says the backlog is empty.
    const beats = plane.heartbeats.length;
    await plane.waitFor(
      () => plane.heartbeats.slice(beats).some((h) => h.site === site && h.offline_backlog.files === 0),
      5_000,
      'a heartbeat with an empty backlog',
    );
    const exit = await worker.stop('SIGTERM');
    expect(exit.status).toBe(0);
  });

  it('keeps, and never sends, a spooled file whose payload_type is not one of the four; keeps what the control plane refuses', async () => {
    const { sqs, plane } = stack;
    const site = 'refused';
    const { queueUrl, spoolDirectory, config } = await stack.setUpSite(site);
    // Hand-placed: a file of an unknown payload type, and a valid result a previous run spooled.
    const unknownId = randomUUID();
    const unknownFile = await placeSpoolFile(
      spoolDirectory,
      'metrics',
      unknownId,
      {
        schemaVersion: 1,
        id: randomUUID(),
        environment: ENV,
        worker_id: 'worker-a',
        site,
        ts: new Date().toISOString(),
        task_id: unknownId,
        attempt: 1,
        payload_type: 'metrics',
        payload: { cpu: 0.5 },
      },
      Date.now() - 2_000,
    );
    const unknownBytes = await readFile(join(spoolDirectory, unknownFile));
    const earlier = taskMessage(ENV, site, { kind: 'collect_facts' });
    const earlierEnvelope: WorkerResultEnvelope = {
      schemaVersion: 1,
      id: randomUUID(),
      environment: ENV,
      worker_id: 'worker-a',
      site,
      ts: new Date().toISOString(),
      task_id: earlier.taskId,
      attempt: 1,
      payload_type: 'execution_result',
      payload: { status: 'succeeded', durationMs: 3 },
    };
    await placeSpoolFile(
      spoolDirectory,
      'execution_result',
      earlier.taskId,
      earlierEnvelope,
      Date.now() - 1_000,
    );
    const worker = stack.spawnWorker(config, ['--json']);
    // The registration counts what the earlier run left in the spool.
    await worker.waitForEvents('worker_registered', 1);
    expect(plane.heartbeats.find((h) => h.site === site)).toMatchObject({
      kind: 'registration',
      offline_backlog: { files: 2 },
    });
    // From now on heartbeats cannot be sent: they are counted, never spooled.
    plane.setMode('heartbeats', 'down');
    await plane.waitFor(
      () => plane.results.some((r) => r.envelope.id === earlierEnvelope.id),
      10_000,
      'the spooled result',
    );
    await worker.waitForEvents('result_refused', 1);
    expect(worker.events().find((e) => e.event === 'result_refused')).toMatchObject({
      file: unknownFile,
      payload_type: 'metrics',
      error_code: 'unknown_payload_type',
      source: 'local',
    });
    // Kept byte for byte in refused/, never sent to the control plane.
    expect(await readFile(join(spoolDirectory, 'refused', unknownFile))).toEqual(unknownBytes);
    expect(plane.refusedResults.some((r) => (r.body as { task_id?: string }).task_id === unknownId)).toBe(
      false,
    );
    const refusals = (await readFile(join(spoolDirectory, 'refused', 'refusals.jsonl'), 'utf8'))
      .trim()
      .split('\n');
    expect(JSON.parse(refusals[0] ?? '{}')).toMatchObject({
      file: unknownFile,
      error_code: 'unknown_payload_type',
      source: 'local',
    });

    // A result the control plane refuses for good (422 unknown_task): kept in refused/, not retried, message deleted.
    plane.setMode('results', 'refuse');
    const refusedTask = taskMessage(ENV, site, { kind: 'execute_action', plugin: 'echo', parameters: {} });
    await sendTask(sqs, queueUrl, refusedTask);
    await worker.waitForEvents('message_deleted', 1);
    await new Promise((resolve) => setTimeout(resolve, 1_000)); // several replay rounds
    expect(
      plane.refusedResults.filter((r) => (r.body as { task_id?: string }).task_id === refusedTask.taskId),
    ).toHaveLength(1);
    expect(
      worker.events().find((e) => e.event === 'result_refused' && e.task_id === refusedTask.taskId),
    ).toMatchObject({ error_code: 'unknown_task', status: 422 });
    expect(await spoolFiles(join(spoolDirectory, 'refused'))).toEqual(
      expect.arrayContaining([
        expect.stringMatching(new RegExp(`^execution_result-\\d{13}-${refusedTask.taskId}\\.json$`)),
      ]),
    );
    expect(await spoolFiles(spoolDirectory)).toEqual([]);
    expect(worker.events().some((e) => e.event === 'heartbeat_failed')).toBe(true);

    const exit = await worker.stop('SIGTERM');
    expect(exit.status).toBe(0);

    const status = await spawnAgent(['worker', 'status', '--config', config, '--json'], {
      env: stack.workerEnv(),
    }).done;
    expect(status.status).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({
      worker_id: 'worker-a',
      site,
      directory: spoolDirectory,
      files: 0,
      bytes: 0,
      refused: 2,
      quarantined: 0,
    });
  });
});
