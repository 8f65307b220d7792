import { createHash, randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { WorkerApiClient } from '#agent/worker/api-client.js';
import {
  type ExecutionResultPayload,
  WORKER_FACT_NAMES,
  type WorkerResultEnvelope,
  type WorkerTaskMessage,
} from '#contracts/worker-contract.js';
import { isAlive } from './fixtures/runner-harness.js';
import { FAKE_CREDENTIALS, FAKE_REGION } from './fixtures/worker-control-plane.js';
import { fixture, queueDepth, sendTask, taskMessage } from './fixtures/worker-harness.js';
import { ENV, useWorkerStack } from './fixtures/worker-stack.js';

const stack = useWorkerStack();

/** The execution_result the control plane received for a task. */
function resultOf(taskId: string): ExecutionResultPayload {
  const envelope = stack.plane
    .uniqueResults()
    .find((e) => e.task_id === taskId && e.payload_type === 'execution_result') as
    | Extract<WorkerResultEnvelope, { payload_type: 'execution_result' }>
    | undefined;
  if (envelope === undefined) throw new Error(`no execution_result for ${taskId}`);
  return envelope.payload;
}

/** Starts a worker on a fresh site's lane, sends `tasks`, waits for `expectedResults` execution results, stops it. */
async function runWorkerOn(
  site: string,
  tasks: readonly (WorkerTaskMessage | string)[],
  expected: { readonly results: number; readonly deletions: number },
  extra: Record<string, unknown> = {},
) {
  const { sqs, plane } = stack;
  const { queueUrl, spoolDirectory, config } = await stack.setUpSite(site, { extra });
  for (const task of tasks) await sendTask(sqs, queueUrl, task);
  const taskIds = new Set(tasks.flatMap((t) => (typeof t === 'string' ? [] : [t.taskId])));
  const worker = stack.spawnWorker(config, ['--json']);
  await plane.waitFor(
    () =>
      plane
        .uniqueResults()
        .filter((e) => taskIds.has(e.task_id ?? '') && e.payload_type === 'execution_result').length >=
      expected.results,
    20_000,
    `${expected.results} execution results`,
  );
  await worker.waitForEvents('message_deleted', expected.deletions);
  const exit = await worker.stop('SIGTERM');
  return { queueUrl, exit, events: worker.events(), spoolDirectory };
}

describe('runlane-agent worker: tasks from the queue to the control plane', () => {
  it('executes each task kind end to end: claimed, executed, result received, message deleted', async () => {
    const { sqs, plane } = stack;
    const site = 'kinds';
    const facts = taskMessage(ENV, site, { kind: 'collect_facts' });
    const someFacts = taskMessage(ENV, site, { kind: 'collect_facts', facts: ['hostname', 'cpus'] });
    const script = taskMessage(ENV, site, {
      kind: 'execute_script',
      script: 'echo',
      args: ['hello', 'world-2'],
    });
    const action = taskMessage(ENV, site, {
      kind: 'execute_action',
      plugin: 'echo',
      parameters: { a: 1, b: 'x' },
    });
    const disk = taskMessage(ENV, site, { kind: 'execute_action', plugin: 'disk_usage', parameters: {} });
    const tasks = [facts, someFacts, script, action, disk];

    const { queueUrl, exit, events } = await runWorkerOn(site, tasks, {
      results: tasks.length,
      deletions: tasks.length,
    });

    expect(exit.status).toBe(0);
    for (const task of tasks) {
      expect(plane.claims.filter((c) => c.taskId === task.taskId)).toEqual([
        { taskId: task.taskId, workerId: 'worker-a', site, attempt: 1, status: 200 },
      ]);
      expect(resultOf(task.taskId).status).toBe('succeeded');
    }
    expect(await queueDepth(sqs, queueUrl)).toEqual({ visible: 0, inFlight: 0 });

    // collect_facts: a facts envelope (all facts by default) and the execution_result.
    const factsEnvelope = plane
      .uniqueResults()
      .find((e) => e.task_id === facts.taskId && e.payload_type === 'facts');
    expect(Object.keys(factsEnvelope?.payload ?? {}).sort()).toEqual([...WORKER_FACT_NAMES].sort());
    expect(factsEnvelope).toMatchObject({ worker_id: 'worker-a', site, environment: ENV, attempt: 1 });
    const some = plane
      .uniqueResults()
      .find((e) => e.task_id === someFacts.taskId && e.payload_type === 'facts');
    expect(Object.keys(some?.payload ?? {}).sort()).toEqual(['cpus', 'hostname']);
    expect(resultOf(someFacts.taskId).output).toEqual(some?.payload);

    // execute_script: output, exit code, the script's SHA-256; no AWS credentials in its environment.
    const scriptResult = resultOf(script.taskId);
    const sha256 = createHash('sha256')
      .update(await readFile(fixture('worker-echo.sh')))
      .digest('hex');
    expect(scriptResult).toMatchObject({
      exitCode: 0,
      truncated: false,
      scriptSha256: sha256,
      stderr: 'to stderr\n',
    });
    expect(scriptResult.stdout).toBe(`args: hello world-2\ntask: ${script.taskId}\nsecret: none\n`);
    const executed = events.filter((e) => e.event === 'script_executed');
    expect(executed).toEqual([
      expect.objectContaining({
        task_id: script.taskId,
        command_id: script.commandId,
        correlation_id: script.correlationId,
        script: 'echo',
        sha256,
        args: ['hello', 'world-2'],
        exit_code: 0,
      }),
    ]);

    // execute_action: the plugins' outputs.
    expect(resultOf(action.taskId).output).toEqual({ a: 1, b: 'x' });
    expect(resultOf(disk.taskId).output).toMatchObject({ path: '/', total_bytes: expect.any(Number) });

    // Every request was SigV4-signed for execute-api.
    expect(plane.requests.every((r) => r.signatureValid)).toBe(true);
    expect(plane.requests[0]?.authorization).toMatch(
      /^AWS4-HMAC-SHA256 Credential=local\/\d{8}\/us-east-1\/execute-api\/aws4_request/,
    );
    // One log line per event, carrying the correlation ids.
    expect(events.find((e) => e.event === 'task_claimed' && e.task_id === action.taskId)).toMatchObject({
      command_id: action.commandId,
      correlation_id: action.correlationId,
    });
  });

  it('refuses what the host does not allow, with a failed result and a clear errorCode', async () => {
    const { plane } = stack;
    const site = 'refusals';
    const markerFile = join(stack.dir, 'never-written');
    const notAllowed = taskMessage(ENV, site, {
      kind: 'execute_script',
      script: 'worker-marker.sh',
      args: [markerFile],
    });
    const tooMany = taskMessage(ENV, site, { kind: 'execute_script', script: 'echo', args: ['a', 'b', 'c'] });
    const badArg = taskMessage(ENV, site, {
      kind: 'execute_script',
      script: 'echo',
      args: ['ok', '$(reboot)'],
    });
    const exitCode = taskMessage(ENV, site, { kind: 'execute_script', script: 'echo', args: ['fail'] });
    const pidFile = join(stack.dir, 'tree-pids');
    const timeout = taskMessage(ENV, site, { kind: 'execute_script', script: 'tree', args: [pidFile] });
    const chatty = taskMessage(ENV, site, { kind: 'execute_script', script: 'chatty', args: [] });
    const noPlugin = taskMessage(ENV, site, {
      kind: 'execute_action',
      plugin: 'shell',
      parameters: { cmd: 'ls' },
    });
    const badParams = taskMessage(ENV, site, {
      kind: 'execute_action',
      plugin: 'disk_usage',
      parameters: { path: '/etc' },
    });
    const expired = taskMessage(
      ENV,
      site,
      { kind: 'collect_facts' },
      {
        queuedAt: new Date(Date.now() - 60_000).toISOString(),
        timeoutMs: 1_000,
      },
    );
    const tasks = [notAllowed, tooMany, badArg, exitCode, timeout, chatty, noPlugin, badParams, expired];

    const { exit, events } = await runWorkerOn(site, tasks, {
      results: tasks.length,
      deletions: tasks.length,
    });
    expect(exit.status).toBe(0);

    expect(resultOf(notAllowed.taskId)).toMatchObject({
      status: 'failed',
      errorCode: 'script_not_allowed',
      error: `script "worker-marker.sh" is not in this worker's allowlist; nothing was run`,
    });
    await expect(readFile(markerFile)).rejects.toThrow(/ENOENT/);
    expect(events.filter((e) => e.event === 'script_executed' && e.task_id === notAllowed.taskId)).toEqual(
      [],
    );

    expect(resultOf(tooMany.taskId)).toMatchObject({
      status: 'failed',
      errorCode: 'invalid_arguments',
      error: 'script takes at most 2 argument(s), got 3',
    });
    expect(resultOf(badArg.taskId)).toMatchObject({
      errorCode: 'invalid_arguments',
      error: 'args.1 does not match the allowlist pattern [a-z0-9-]+',
    });
    expect(resultOf(exitCode.taskId)).toMatchObject({
      status: 'failed',
      errorCode: 'exit_code',
      exitCode: 3,
    });

    // Timeout: failed, and the whole tree (child, grandchild) is gone.
    expect(resultOf(timeout.taskId)).toMatchObject({ status: 'failed', errorCode: 'timeout' });
    expect(resultOf(timeout.taskId).error).toMatch(
      /ran longer than 700 ms; its process tree \(\d+ processes\) was killed/,
    );
    const pids = (await readFile(pidFile, 'utf8')).trim().split('\n').map(Number);
    expect(pids.length).toBe(4);
    expect(pids.filter((pid) => isAlive(pid))).toEqual([]);

    // Output cap: the first 1024 bytes of stdout, truncated said.
    const capped = resultOf(chatty.taskId);
    expect(capped).toMatchObject({ status: 'succeeded', truncated: true, stderr: 'err line\n' });
    expect(capped.stdout).toBe('x'.repeat(1024));

    expect(resultOf(noPlugin.taskId)).toMatchObject({
      status: 'failed',
      errorCode: 'plugin_not_registered',
      error: 'plugin "shell" is not registered and enabled on this worker',
    });
    expect(resultOf(badParams.taskId)).toMatchObject({ status: 'failed', errorCode: 'invalid_arguments' });
    expect(resultOf(badParams.taskId).error).toMatch(/^parameters/);

    // Expired: claimed, then failed without running.
    expect(plane.claims.find((c) => c.taskId === expired.taskId)?.status).toBe(200);
    expect(resultOf(expired.taskId)).toMatchObject({
      status: 'failed',
      errorCode: 'task_expired',
      durationMs: 0,
    });
    expect(
      plane.uniqueResults().some((e) => e.task_id === expired.taskId && e.payload_type === 'facts'),
    ).toBe(false);
  });

  it('leaves what is not its own on the queue for the DLQ, and deletes tasks the control plane says are taken', async () => {
    const { sqs, plane } = stack;
    const site = 'leave';
    const otherSite = taskMessage(ENV, 'elsewhere', { kind: 'collect_facts' });
    const otherWorker = taskMessage(ENV, site, { kind: 'collect_facts' }, { workerId: 'worker-z' });
    const invalid = { ...taskMessage(ENV, site, { kind: 'collect_facts' }), taskId: 'not-a-uuid' };
    const taken = taskMessage(ENV, site, { kind: 'execute_script', script: 'echo', args: [] });
    const siteMismatch = taskMessage(ENV, site, { kind: 'execute_script', script: 'echo', args: [] });
    const control = taskMessage(ENV, site, { kind: 'collect_facts' });
    // Another worker already claimed `taken`; the control plane knows `siteMismatch` as another site's.
    const api = new WorkerApiClient({
      baseUrl: plane.url,
      region: async () => FAKE_REGION,
      credentials: async () => FAKE_CREDENTIALS,
      timeoutMs: 2_000,
    });
    expect(await api.claim(taken.taskId, { worker_id: 'worker-b', site, attempt: 1 })).toEqual({
      outcome: 'claimed',
    });
    plane.registerTask(siteMismatch.taskId, 'elsewhere');

    const { queueUrl, exit, events } = await runWorkerOn(
      site,
      [otherSite, otherWorker, invalid, '{not json', taken, siteMismatch, control],
      { results: 1, deletions: 3 },
    );
    expect(exit.status).toBe(0);

    const claimed = new Set(plane.claims.map((c) => c.taskId));
    expect(claimed.has(otherSite.taskId)).toBe(false);
    expect(claimed.has(otherWorker.taskId)).toBe(false);
    expect(events.find((e) => e.event === 'task_wrong_site')).toMatchObject({
      task_id: otherSite.taskId,
      task_site: 'elsewhere',
    });
    expect(events.find((e) => e.event === 'task_for_other_worker')).toMatchObject({
      task_id: otherWorker.taskId,
    });
    expect(
      events
        .filter((e) => e.event === 'task_invalid')
        .map((e) => e.field_path)
        .sort(),
    ).toEqual(['(body)', 'taskId']);
    expect(events.find((e) => e.event === 'task_already_claimed')).toMatchObject({
      task_id: taken.taskId,
      claimed_by: 'worker-b',
    });
    expect(events.find((e) => e.event === 'claim_wrong_site')).toMatchObject({
      task_id: siteMismatch.taskId,
    });
    // Neither taken task ran; only `control` produced a result.
    expect(events.filter((e) => e.event === 'script_executed')).toEqual([]);
    expect(
      plane.uniqueResults().filter((e) => [taken.taskId, siteMismatch.taskId].includes(e.task_id ?? '')),
    ).toEqual([]);
    // The four it could not use stay (in flight until their visibility timeout, then to the DLQ); the rest are deleted.
    const depth = await queueDepth(sqs, queueUrl);
    expect(depth.visible + depth.inFlight).toBe(4);
  });

  it('--once: one receive round; a claim the control plane cannot answer leaves the message', async () => {
    const { sqs } = stack;
    const site = 'once';
    const { queueUrl, config } = await stack.setUpSite(site, {
      visibilityTimeoutSeconds: 1,
      apiUrl: 'http://127.0.0.1:9', // nothing listens: the claim cannot be made
    });
    const task = taskMessage(ENV, site, {
      kind: 'execute_action',
      plugin: 'echo',
      parameters: { n: randomUUID() },
    });
    await sendTask(sqs, queueUrl, task);
    const run = await stack.spawnWorker(config, ['--once']).done;
    expect(run.status).toBe(0);
    expect(run.stdout).toBe('received 1, executed 0, skipped 1, deleted 0\n');
    expect(run.stderr).toMatch(
      new RegExp(`claim_failed task_id=${task.taskId} .*command_id=${task.commandId}`),
    );
    const depth = await queueDepth(sqs, queueUrl);
    expect(depth.visible + depth.inFlight).toBe(1);
  });
});
