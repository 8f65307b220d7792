import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import { parseWorkerConfig } from '#agent/worker/config.js';
import { HeartbeatLoop } from '#agent/worker/heartbeat.js';
import type { WorkerHeartbeatEvent, WorkerResultEnvelope } from '#contracts/worker-contract.js';
import { isAlive } from './fixtures/runner-harness.js';
import { fixture, pinned, queueDepth, sendTask, taskMessage } from './fixtures/worker-harness.js';
import { ENV, useWorkerStack } from './fixtures/worker-stack.js';

const stack = useWorkerStack();

function executionResult(taskId: string) {
  return (
    stack.plane.uniqueResults().find((e) => e.task_id === taskId && e.payload_type === 'execution_result') as
      | Extract<WorkerResultEnvelope, { payload_type: 'execution_result' }>
      | undefined
  )?.payload;
}

async function startWorker(
  site: string,
  shutdownGraceMs: number,
  options: { readonly slowTimeoutMs?: number; readonly extra?: Record<string, unknown> } = {},
) {
  const { queueUrl, config } = await stack.setUpSite(site, {
    extra: {
      shutdownGraceMs,
      scripts: {
        slow: pinned(fixture('worker-tree.sh'), {
          args: { maxCount: 1, pattern: '/[A-Za-z0-9/._-]+' },
          timeoutMs: options.slowTimeoutMs ?? 60_000,
          killGraceMs: 300,
        }),
        marker: pinned(fixture('worker-marker.sh'), { args: { maxCount: 1, pattern: '/[A-Za-z0-9/._-]+' } }),
      },
      ...options.extra,
    },
  });
  const worker = stack.spawnWorker(config, options.extra === undefined ? [] : ['--json']);
  return { queueUrl, worker };
}

describe('runlane-agent worker: SIGTERM', () => {
  it('lets the task in hand finish within shutdownGraceMs, hands its result over, exits 0', async () => {
    const { sqs, plane } = stack;
    const { queueUrl, worker } = await startWorker('graceful', 10_000);
    const markerFile = join(stack.dir, 'graceful-marker');
    const task = taskMessage(ENV, 'graceful', {
      kind: 'execute_script',
      script: 'marker',
      args: [markerFile],
    });
    await sendTask(sqs, queueUrl, task);
    await worker.waitForLog(/task_claimed/);
    worker.child.kill('SIGTERM');
    const exit = await worker.done;
    expect(exit.status).toBe(0);
    expect(exit.stderr).toMatch(/shutdown_waiting_for_task grace_ms=10000 signal=SIGTERM/);
    expect(executionResult(task.taskId)).toMatchObject({ status: 'succeeded', exitCode: 0 });
    expect((await readFile(markerFile, 'utf8')).startsWith(task.taskId)).toBe(true);
    expect(exit.stderr).toMatch(new RegExp(`message_deleted task_id=${task.taskId}`));
    expect(await queueDepth(sqs, queueUrl)).toEqual({ visible: 0, inFlight: 0 });
    // After the task was handed over: one deregistration, the last thing the plane hears.
    const own = plane.heartbeats.filter((event) => event.site === 'graceful');
    expect(own.filter((event) => event.kind === 'deregistration')).toHaveLength(1);
    expect(own.at(-1)).toMatchObject({ kind: 'deregistration', executing: 0 });
    expect(exit.stderr.indexOf('worker_deregistered')).toBeGreaterThan(
      exit.stderr.indexOf(`message_deleted task_id=${task.taskId}`),
    );
  });

  it('does not hang on a control plane that cannot take the deregistration: logs it, exits 0', async () => {
    const { plane } = stack;
    const { worker } = await startWorker('unheard', 1_000);
    await worker.waitForLog(/worker_registered/);
    plane.setMode('heartbeats', 'fail500');
    try {
      const started = Date.now();
      const exit = await worker.stop('SIGTERM');
      expect(exit.status).toBe(0);
      expect(exit.stderr).toMatch(/deregistration_failed/);
      expect(Date.now() - started).toBeLessThan(15_000);
    } finally {
      plane.setMode('heartbeats', 'up');
    }
  });

  it('kills the tree of a task that outlasts the grace, reports worker_shutdown, exits 0', async () => {
    const { sqs, plane } = stack;
    const { queueUrl, worker } = await startWorker('impatient', 300);
    const pidFile = join(stack.dir, 'impatient-pids');
    const task = taskMessage(ENV, 'impatient', { kind: 'execute_script', script: 'slow', args: [pidFile] });
    await sendTask(sqs, queueUrl, task);
    await worker.waitForLog(/task_claimed/);
    await plane.waitFor(() => existsSync(pidFile) && readFileLines(pidFile) >= 4, 5_000, 'the script tree');
    const exit = await worker.stop('SIGTERM');
    expect(exit.status).toBe(0);
    expect(executionResult(task.taskId)).toMatchObject({ status: 'failed', errorCode: 'worker_shutdown' });
    const pids = (await readFile(pidFile, 'utf8')).trim().split('\n').map(Number);
    expect(pids.filter((pid) => isAlive(pid))).toEqual([]);
    expect(await queueDepth(sqs, queueUrl)).toEqual({ visible: 0, inFlight: 0 });
  });
});

describe('HeartbeatLoop.deregister', () => {
  it('gives up after its timeout when the transport never answers, logging deregistration_failed', async () => {
    const config = parseWorkerConfig(
      {
        environment: ENV,
        site: 'lab',
        taskQueueUrl: `https://sqs.us-east-1.amazonaws.com/123456789012/runlane-${ENV}-worker-tasks-lab`,
        apiUrl: 'https://abc123.execute-api.us-east-1.amazonaws.com',
      },
      'test',
      {},
      'host-1',
    );
    const sent: WorkerHeartbeatEvent[] = [];
    const logged: string[] = [];
    const loop = new HeartbeatLoop({
      config,
      transport: {
        description: 'api hanging',
        sendResult: () => new Promise(() => {}),
        sendHeartbeat: (event) => {
          sent.push(event);
          return new Promise(() => {});
        },
      },
      log: { event: (name) => logged.push(name) },
      host: 'host-1',
      version: '1.0.0',
      backlog: () => ({ files: 0, bytes: 0 }),
      executing: () => 0,
    });
    const started = Date.now();
    expect(await loop.deregister(100)).toBe(false);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(sent.map((event) => event.kind)).toEqual(['deregistration']);
    expect(logged).toEqual(['deregistration_failed']);
  });
});

describe('runlane-agent worker: long tasks', () => {
  it('keeps the message of a task longer than visibilityTimeoutSeconds invisible until it is done', async () => {
    const { sqs } = stack;
    const { queueUrl, worker } = await startWorker('long', 10_000, {
      slowTimeoutMs: 3_000,
      extra: { visibilityTimeoutSeconds: 2 },
    });
    const pidFile = join(stack.dir, 'long-pids');
    const task = taskMessage(ENV, 'long', { kind: 'execute_script', script: 'slow', args: [pidFile] });
    await sendTask(sqs, queueUrl, task);
    await worker.waitForEvents('task_claimed', 1);
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    // Past the 2 s visibility timeout, another consumer still cannot receive the message.
    const stolen = await sqs.client.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }),
    );
    expect(stolen.Messages ?? []).toEqual([]);
    expect(
      worker.events().filter((e) => e.event === 'message_visibility_extended').length,
    ).toBeGreaterThanOrEqual(2);
    await worker.waitForEvents('message_deleted', 1, 10_000);
    expect(executionResult(task.taskId)).toMatchObject({ status: 'failed', errorCode: 'timeout' });
    expect(await queueDepth(sqs, queueUrl)).toEqual({ visible: 0, inFlight: 0 });
    expect(worker.events().filter((e) => e.event === 'task_claimed')).toHaveLength(1);
    expect((await worker.stop('SIGTERM')).status).toBe(0);
  });
});

function readFileLines(file: string): number {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').length;
  } catch {
    return 0;
  }
}
