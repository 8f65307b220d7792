import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { WORKER_RUNTIME_ENV } from '#core/workers/settings.js';
import { connectLocalApi } from '#local/demo/local-api.js';
import type { BusEvent } from '#local/emulators/event-bus.js';
import type { LocalStackInfo } from '#local/stack/start-local-stack.js';
import { asyncInvocation, resolveLocalWorkerOptions } from '#local/stack/workers.js';
import { environmentConfig } from '../infra/support.js';
import { projectRoot } from '../support/local-cli.js';

/**
 * `runlane local` with worker delegation as a person starts it (the real bin), and the local
 * stack's worker wiring that has no process of its own: the options' resolution and the
 * asynchronous-invocation retries in front of the worker ingest.
 */
describe('runlane local: worker delegation', () => {
  it('provisions a task lane per site, passes the WORKER_* settings on and prints them in the banner', async () => {
    const child = spawn(
      process.execPath,
      [
        join(projectRoot, 'bin/runlane.mjs'),
        'local',
        '--ephemeral',
        ...['--port', '0', '--dynamo-port', '0', '--sqs-port', '0', '--events-port', '0'],
        '--worker-sites',
        'lab,edge',
        '--worker-delegation',
        '--json',
        '--pretty',
      ],
      { cwd: projectRoot, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
    const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    try {
      const ready = await new Promise<LocalStackInfo>((resolve, reject) => {
        child.stdout.on('data', (chunk: Buffer) => {
          stdout += chunk.toString();
          const line = stdout.split('\n').find((l) => l.startsWith('{"ready":true'));
          if (line) resolve(JSON.parse(line) as LocalStackInfo);
        });
        void exited.then((status) => reject(new Error(`runlane local exited ${status}:\n${stderr}`)));
      });
      const { workers } = ready;
      expect(workers.environment).toBe('local');
      expect(Object.keys(workers.sites)).toEqual(['edge', 'lab']);
      for (const site of ['edge', 'lab']) {
        expect(workers.sites[site]).toMatchObject({
          queueName: `runlane-local-worker-tasks-${site}`,
          dlqName: `runlane-local-worker-tasks-${site}-dlq`,
        });
      }
      expect(workers.delegationEnabledDefault).toBe(true);
      expect(workers.eventsDeadLetterQueueUrl).toMatch(/runlane-local-worker-events-dlq$/);
      expect(workers.runtimeEnvironment).toEqual({
        [WORKER_RUNTIME_ENV.delegationEnabled]: 'true',
        [WORKER_RUNTIME_ENV.heartbeatStaleMultiple]: '3',
        [WORKER_RUNTIME_ENV.taskQueueUrls]: JSON.stringify({
          edge: workers.sites.edge?.queueUrl,
          lab: workers.sites.lab?.queueUrl,
        }),
        [WORKER_RUNTIME_ENV.stuckTaskMinutes]: '15',
        [WORKER_RUNTIME_ENV.resultDeadlineSeconds]: '3600',
      });
      // The API got them: delegation on by default, both lanes in the queue depth (operator reads, signed).
      const operator = (await connectLocalApi(ready.apiUrl)).operator;
      const delegation = (await operator('GET', '/api/workers/delegation')).body;
      expect(delegation).toMatchObject({ enabled: true, source: 'default', online_workers: 0 });
      const health = (await operator('GET', '/api/workers/health')).body as {
        queue: { depth: unknown };
      };
      expect(health.queue.depth).toEqual({
        edge: { visible: 0, inFlight: 0 },
        lab: { visible: 0, inFlight: 0 },
      });

      expect(stderr).toContain(
        'Workers      environment local, delegation on (WORKER_DELEGATION_ENABLED=true; switch: npx runlane workers delegation on|off)',
      );
      expect(stderr).toContain(`site edge   ${workers.sites.edge?.queueUrl} (+ -dlq)`);
      expect(stderr).toContain(`site lab   ${workers.sites.lab?.queueUrl} (+ -dlq)`);
      expect(stderr).toContain('eval "$(npx runlane workers credentials --site edge --worker-id edge-1)"');
      expect(stderr).toContain(
        `WORKER_DEFAULT_ID=edge-1 WORKER_SITE_NAME=edge RUNLANE_WORKER_QUEUE_URL=${workers.sites.edge?.queueUrl} RUNLANE_API_URL=${ready.apiUrl}`,
      );
      expect(stderr).toContain('npx runlane workers health | metrics,  npx runlane tasks stuck');
    } finally {
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      clearTimeout(killer);
    }
  }, 60_000);

  it('takes sites from cdk.json (lab when it names none) and reports every bad option at once', () => {
    expect(resolveLocalWorkerOptions(environmentConfig()).sites).toEqual(['lab']);
    expect(
      resolveLocalWorkerOptions(environmentConfig({ workers: { sites: ['edge'], delegationEnabled: true } })),
    ).toMatchObject({
      sites: ['edge'],
      delegationEnabled: true,
      heartbeatStaleMultiple: 3,
      stuckTaskMinutes: 15,
      resultDeadlineSeconds: 3600,
    });
    // Fractions of a second are allowed locally (tests), as for stuckTaskMinutes.
    expect(
      resolveLocalWorkerOptions(environmentConfig(), { resultDeadlineSeconds: 0.5 }).resultDeadlineSeconds,
    ).toBe(0.5);
    expect(() =>
      resolveLocalWorkerOptions(environmentConfig(), {
        sites: ['Lab', 'edge', 'edge'],
        heartbeatStaleMultiple: 0,
        resultDeadlineSeconds: 0,
      }),
    ).toThrow(
      /sites: "Lab" must be 1-32 of a-z[\s\S]*sites: a site is repeated[\s\S]*heartbeatStaleMultiple: must be positive[\s\S]*resultDeadlineSeconds: must be above 0/,
    );
  });

  it('invokes the worker ingest as EventBridge invokes a Lambda: retried on a throw, then the on-failure destination', async () => {
    const event = { id: 'e-1', 'detail-type': 'WorkerResult' } as unknown as BusEvent;
    let calls = 0;
    const failures: unknown[] = [];
    const recovering = asyncInvocation(
      async () => {
        calls += 1;
        if (calls < 2) throw new Error('run in progress');
      },
      { retryDelaysMs: [20, 20], onFailure: async (_e, error) => void failures.push(error) },
    );
    await recovering(event);
    await expect.poll(() => calls).toBe(2);
    expect(failures).toEqual([]);

    const retried: number[] = [];
    const failing = asyncInvocation(
      async () => {
        throw new Error('still failing');
      },
      {
        retryDelaysMs: [20, 20],
        onRetry: (_e, _error, attempt) => retried.push(attempt),
        onFailure: async (e, error) => void failures.push([e.id, String(error)]),
      },
    );
    await failing(event);
    await expect.poll(() => failures).toEqual([['e-1', 'Error: still failing']]);
    expect(retried).toEqual([1, 2]);

    const stopped = asyncInvocation(
      async () => {
        throw new Error('x');
      },
      { retryDelaysMs: [50], onFailure: async () => void failures.push('late') },
    );
    await stopped(event);
    stopped.stop();
    await new Promise((resolve) => setTimeout(resolve, 120));
    expect(failures).not.toContain('late');
  });
});
