import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoDbApprovalStore } from '#adapters/dynamodb/approval-store.js';
import { DynamoDbClientKeyStore } from '#adapters/dynamodb/client-key-store.js';
import { DynamoDbLifecycleStore } from '#adapters/dynamodb/lifecycle-store.js';
import { DynamoDbWorkerRegistry } from '#adapters/dynamodb/worker-registry.js';
import { DynamoDbWorkerTaskStore } from '#adapters/dynamodb/worker-task-store.js';
import { SqsCommandQueue } from '#adapters/sqs/command-queue.js';
import { workerRoutePath } from '#contracts/api-routes.js';
import type { Caller } from '#core/api/caller.js';
import { createCommandApi } from '#core/api/command-api.js';
import { DEFAULT_WORKER_SETTINGS } from '#core/workers/settings.js';
import { buildCommandApi, isUnstorableInputError } from '#wiring/api.js';
import { buildWorkerAdapters } from '#wiring/worker-api.js';
import { anApiRequest, aWorkerCaller } from '../support/api-requests.js';
import { aRecordingLogger } from '../support/factories.js';
import { createTestEnvironment, type TestEnvironment } from '../support/test-environment.js';
import { aHeartbeat, aLogsEnvelope, anExecutionResult, aTaskMessage } from '../support/worker-fixtures.js';
import { aDelegatedRun, createSiteLanes } from '../support/worker-integration.js';

/**
 * Worker hosts on `/api/workers/sites/{site}/…` (DESIGN §7): the caller's role is its site and its
 * session its worker id, whatever the body says; what a worker reports is dated within the clock
 * skew of its arrival; and nothing a worker sends can make the API answer 5xx. Through the real
 * API module on DynamoDB Local, with a clock the tests move.
 */
describe('worker routes: identity, clock skew and storable payloads, on the emulators', () => {
  let env: TestEnvironment<never>;
  let lanes: Awaited<ReturnType<typeof createSiteLanes>>;
  let environment: string;
  let api: ReturnType<typeof buildCommandApi>;
  let strictApi: ReturnType<typeof buildCommandApi>;
  let tasks: DynamoDbWorkerTaskStore;
  let registry: DynamoDbWorkerRegistry;
  let lifecycle: DynamoDbLifecycleStore;
  const now = new Date();

  beforeAll(async () => {
    env = await createTestEnvironment({ lanes: [] });
    environment = env.id;
    lanes = await createSiteLanes(env.sqs, environment, ['lab', 'edge']);
    const tableName = env.tableName ?? '';
    const settings = {
      tableName,
      queueUrls: {},
      maxBodyBytes: 32_768,
      environment,
      workers: { ...DEFAULT_WORKER_SETTINGS, taskQueueUrls: lanes.urls },
    };
    const clients = { documents: env.documentClient, sqs: env.sqs };
    api = buildCommandApi(settings, clients, aRecordingLogger(), { now: () => now });
    // WORKER_CLOCK_SKEW_SECONDS=30
    strictApi = buildCommandApi({ ...settings, workerClockSkewSeconds: 30 }, clients, aRecordingLogger(), {
      now: () => now,
    });
    tasks = new DynamoDbWorkerTaskStore({ client: env.documentClient, tableName, environment });
    registry = new DynamoDbWorkerRegistry({ client: env.documentClient, tableName, environment });
    lifecycle = new DynamoDbLifecycleStore({ client: env.documentClient, tableName });
  });
  afterAll(async () => {
    await lanes?.remove();
    await env?.cleanup();
  });

  const at = (offsetMs: number) => new Date(now.getTime() + offsetMs).toISOString();
  const worker = (site: string, workerId: string) => aWorkerCaller(site, workerId, environment);

  async function post(path: string, body: unknown, caller: Caller, via = api) {
    const response = await via(anApiRequest('POST', path, { caller, body }));
    return { status: response.statusCode, body: JSON.parse(response.body) };
  }

  const heartbeatPath = (site: string) => workerRoutePath('postWorkerHeartbeat', site);
  const resultPath = (site: string) => workerRoutePath('postWorkerResult', site);
  const claimPath = (site: string, taskId: string) => workerRoutePath('claimWorkerTask', site, taskId);

  function aHeartbeatOf(workerId: string, site: string, overrides: Parameters<typeof aHeartbeat>[0] = {}) {
    return aHeartbeat({ environment, worker_id: workerId, site, ts: at(0), ...overrides });
  }

  async function aTaskClaimedBy(workerId: string, site = 'lab') {
    const task = await tasks.createQueued(aTaskMessage({ environment, site }), new Date());
    const claimed = await tasks.claim({ taskId: task.taskId, workerId, site, now: new Date() });
    if (claimed.outcome !== 'claimed') throw new Error(claimed.outcome);
    return claimed.task;
  }

  async function registryEntry(workerId: string) {
    return (await registry.list()).find((entry) => entry.workerId === workerId);
  }

  describe('who the worker is', () => {
    it('refuses a worker on another site’s routes (403 wrong_site at path.site) on every worker route', async () => {
      const edge = worker('edge', 'edge-1');
      const task = await tasks.createQueued(aTaskMessage({ environment, site: 'lab' }), new Date());
      const cases: [string, unknown][] = [
        [heartbeatPath('lab'), aHeartbeatOf('edge-1', 'lab')],
        [resultPath('lab'), anExecutionResult(task, { environment, worker_id: 'edge-1', site: 'lab' })],
        [claimPath('lab', task.taskId), { worker_id: 'edge-1', site: 'lab', attempt: 1 }],
      ];
      for (const [path, body] of cases) {
        expect(await post(path, body, edge), path).toMatchObject({
          status: 403,
          body: { error: 'wrong_site', fieldPath: 'path.site' },
        });
      }
      expect((await tasks.get(task.taskId))?.status).toBe('queued');
      expect(await registryEntry('edge-1')).toBeUndefined();
    });

    it('refuses a body naming another worker (403 worker_mismatch) or another site (403 wrong_site at body.site)', async () => {
      const caller = worker('lab', 'lab-1');
      const task = await tasks.createQueued(aTaskMessage({ environment, site: 'lab' }), new Date());
      const mismatched: [string, unknown, string][] = [
        [heartbeatPath('lab'), aHeartbeatOf('lab-2', 'lab'), 'body.worker_id'],
        [heartbeatPath('lab'), aHeartbeatOf('lab-1', 'edge'), 'body.site'],
        [resultPath('lab'), anExecutionResult(task, { environment, worker_id: 'lab-2' }), 'body.worker_id'],
        [
          resultPath('lab'),
          anExecutionResult(task, { environment, worker_id: 'lab-1', site: 'edge' }),
          'body.site',
        ],
        [claimPath('lab', task.taskId), { worker_id: 'lab-2', site: 'lab', attempt: 1 }, 'body.worker_id'],
        [claimPath('lab', task.taskId), { worker_id: 'lab-1', site: 'edge', attempt: 1 }, 'body.site'],
      ];
      for (const [path, body, fieldPath] of mismatched) {
        expect(await post(path, body, caller), `${path} ${fieldPath}`).toMatchObject({
          status: 403,
          body: {
            error: fieldPath === 'body.site' ? 'wrong_site' : 'worker_mismatch',
            fieldPath,
          },
        });
      }
      expect((await tasks.get(task.taskId))?.status).toBe('queued');
      expect(await tasks.listResultKeys(task.taskId)).toEqual([]);
    });

    it('cannot be stopped by another host: a spoofed deregistration dated 2099 is refused, and the real heartbeats count', async () => {
      const real = worker('lab', 'victim-1');
      expect((await post(heartbeatPath('lab'), aHeartbeatOf('victim-1', 'lab'), real)).status).toBe(202);
      const attacker = worker('lab', 'attacker-1');
      const spoofed = aHeartbeatOf('victim-1', 'lab', {
        kind: 'deregistration',
        host: 'attacker',
        ts: '2099-01-01T00:00:00.000Z',
      });
      expect(await post(heartbeatPath('lab'), spoofed, attacker)).toMatchObject({
        status: 403,
        body: { error: 'worker_mismatch' },
      });
      // Even as itself, a heartbeat from the future is refused (the 2099 trick).
      expect(
        await post(heartbeatPath('lab'), { ...spoofed, worker_id: 'attacker-1' }, attacker),
      ).toMatchObject({ status: 400, body: { error: 'clock_skew', fieldPath: 'body.ts' } });
      expect(await registryEntry('victim-1')).toMatchObject({ host: 'host-1', lastKind: 'heartbeat' });
      expect(await registryEntry('attacker-1')).toBeUndefined();
      const later = aHeartbeatOf('victim-1', 'lab', { ts: at(1_000) });
      expect((await post(heartbeatPath('lab'), later, real)).status).toBe(202);
      expect(await registryEntry('victim-1')).toMatchObject({ lastSeen: later.ts });
    });
  });

  describe('claims and results of the worker’s own tasks', () => {
    it('claims only tasks of its own site: another site’s task is never claimable from here', async () => {
      const edgeTask = await tasks.createQueued(aTaskMessage({ environment, site: 'edge' }), new Date());
      expect(
        await post(
          claimPath('lab', edgeTask.taskId),
          { worker_id: 'lab-1', site: 'lab', attempt: 1 },
          worker('lab', 'lab-1'),
        ),
      ).toMatchObject({ status: 403, body: { error: 'wrong_site', fieldPath: 'path.taskId' } });
      expect((await tasks.get(edgeTask.taskId))?.status).toBe('queued');
      // Its own site's worker claims it.
      expect(
        await post(
          claimPath('edge', edgeTask.taskId),
          { worker_id: 'edge-1', site: 'edge', attempt: 1 },
          worker('edge', 'edge-1'),
        ),
      ).toMatchObject({ status: 200, body: { claimed: true, task: { claimed_by: 'edge-1' } } });
    });

    it('refuses a result for a task another worker claimed (403 not_claimant), storing nothing, so the claimant’s result still lands', async () => {
      const task = await aTaskClaimedBy('lab-1');
      const forged = anExecutionResult(task, {
        environment,
        worker_id: 'lab-2',
        payload: { status: 'failed' },
      });
      expect(await post(resultPath('lab'), forged, worker('lab', 'lab-2'))).toMatchObject({
        status: 403,
        body: { error: 'not_claimant', fieldPath: 'body.task_id' },
      });
      const forgedLogs = { ...aLogsEnvelope(task), environment, worker_id: 'lab-2' };
      expect((await post(resultPath('lab'), forgedLogs, worker('lab', 'lab-2'))).status).toBe(403);
      expect(await tasks.listResultKeys(task.taskId)).toEqual([]);

      const real = anExecutionResult(task, { environment, worker_id: 'lab-1' });
      expect(await post(resultPath('lab'), real, worker('lab', 'lab-1'))).toMatchObject({
        status: 202,
        body: { duplicate: false },
      });
      expect((await tasks.get(task.taskId))?.status).toBe('succeeded');
    });

    it('refuses a result for a task nobody claimed, or of another site', async () => {
      const queued = await tasks.createQueued(aTaskMessage({ environment, site: 'lab' }), new Date());
      expect(
        await post(
          resultPath('lab'),
          anExecutionResult(queued, { environment, worker_id: 'lab-1' }),
          worker('lab', 'lab-1'),
        ),
      ).toMatchObject({ status: 403, body: { error: 'not_claimant', fieldPath: 'body.task_id' } });
      const edgeTask = await aTaskClaimedBy('lab-1', 'edge');
      expect(
        await post(
          resultPath('lab'),
          anExecutionResult(edgeTask, { environment, worker_id: 'lab-1', site: 'lab' }),
          worker('lab', 'lab-1'),
        ),
      ).toMatchObject({ status: 403, body: { error: 'wrong_site', fieldPath: 'body.task_id' } });
      expect(await tasks.listResultKeys(queued.taskId)).toEqual([]);
      expect(await tasks.listResultKeys(edgeTask.taskId)).toEqual([]);
    });
  });

  describe('clock skew (WORKER_CLOCK_SKEW_SECONDS, default 300)', () => {
    it('refuses a heartbeat more than 300 s ahead of or behind its arrival with 400 clock_skew at body.ts', async () => {
      const caller = worker('lab', 'skew-1');
      for (const offset of [301_000, -301_000]) {
        expect(
          await post(heartbeatPath('lab'), aHeartbeatOf('skew-1', 'lab', { ts: at(offset) }), caller),
        ).toMatchObject({
          status: 400,
          body: { error: 'clock_skew', fieldPath: 'body.ts' },
        });
      }
      expect(await registryEntry('skew-1')).toBeUndefined();
      for (const offset of [299_000, -299_000]) {
        expect(
          (await post(heartbeatPath('lab'), aHeartbeatOf('skew-1', 'lab', { ts: at(offset) }), caller))
            .status,
        ).toBe(202);
      }
    });

    it('refuses a result from the future, takes a late one (replayed from the spool after an outage)', async () => {
      const task = await aTaskClaimedBy('lab-1');
      const caller = worker('lab', 'lab-1');
      const early = anExecutionResult(task, { environment, worker_id: 'lab-1', ts: at(301_000) });
      expect(await post(resultPath('lab'), early, caller)).toMatchObject({
        status: 400,
        body: { error: 'clock_skew', fieldPath: 'body.ts' },
      });
      expect(await tasks.listResultKeys(task.taskId)).toEqual([]);
      const late = anExecutionResult(task, { environment, worker_id: 'lab-1', ts: at(-3 * 86_400_000) });
      expect((await post(resultPath('lab'), late, caller)).status).toBe(202);
    });

    it('takes its bound from WORKER_CLOCK_SKEW_SECONDS', async () => {
      const caller = worker('lab', 'skew-2');
      const heartbeat = aHeartbeatOf('skew-2', 'lab', { ts: at(31_000) });
      expect((await post(heartbeatPath('lab'), heartbeat, caller, strictApi)).status).toBe(400);
      expect((await post(heartbeatPath('lab'), heartbeat, caller, api)).status).toBe(202);
    });
  });

  describe('payloads DynamoDB cannot store are 400 with the field path, never 5xx', () => {
    function nested(depth: number): unknown {
      let value: unknown = 'leaf';
      for (let i = 0; i < depth; i++) value = { a: value };
      return value;
    }

    const cases: [string, (envelope: Record<string, unknown>) => unknown, string][] = [
      [
        'nested 40 levels deep',
        (e) => ({ ...e, payload: { ...(e.payload as object), output: nested(40) } }),
        'body.payload.output.a.a.a',
      ],
      [
        'nested 5,000 levels deep',
        // As text: a body this deep is more than JSON.stringify (or any recursive walk) can take.
        (e) =>
          JSON.stringify({ ...e, payload: { ...(e.payload as object), output: 'DEEP' } }).replace(
            '"DEEP"',
            `${'{"a":'.repeat(5_000)}1${'}'.repeat(5_000)}`,
          ),
        'body.payload.output',
      ],
      [
        'an empty key',
        (e) => ({ ...e, payload: { ...(e.payload as object), output: { '': 1 } } }),
        'body.payload.output.""',
      ],
      [
        'an empty key deep down',
        (e) => ({ ...e, payload: { ...(e.payload as object), output: { x: [{ '': 'v' }] } } }),
        'body.payload.output.x.0.""',
      ],
      [
        'a number beyond 2^53',
        (e) => ({ ...e, payload: { ...(e.payload as object), durationMs: 1e300 } }),
        'body.payload.durationMs',
      ],
      [
        'a number too small for DynamoDB',
        (e) => ({ ...e, payload: { ...(e.payload as object), output: { tiny: 1e-200 } } }),
        'body.payload.output.tiny',
      ],
      [
        'a lone surrogate',
        (e) => ({ ...e, payload: { ...(e.payload as object), output: { s: 'a\uD800b' } } }),
        'body.payload.output.s',
      ],
    ];

    it.each(cases)('refuses a result %s', async (_name, mutate, fieldPath) => {
      const task = await aTaskClaimedBy('lab-1');
      const envelope = mutate(anExecutionResult(task, { environment, worker_id: 'lab-1' }) as never);
      const response = await post(resultPath('lab'), envelope, worker('lab', 'lab-1'));
      expect(response.status).toBe(400);
      expect(response.body.error).toBe('invalid_envelope');
      expect(response.body.fieldPath.startsWith(fieldPath)).toBe(true);
      expect(await tasks.listResultKeys(task.taskId)).toEqual([]);
    });

    it('refuses facts and health payloads the same way, and a heartbeat with a number beyond 2^53', async () => {
      const task = await aTaskClaimedBy('lab-1');
      const caller = worker('lab', 'lab-1');
      const facts = {
        schemaVersion: 1,
        id: randomUUID(),
        environment,
        worker_id: 'lab-1',
        site: 'lab',
        ts: at(0),
        task_id: task.taskId,
        attempt: 1,
        payload_type: 'facts',
        payload: { '': 'x' },
      };
      expect(await post(resultPath('lab'), facts, caller)).toMatchObject({
        status: 400,
        body: { error: 'invalid_envelope', fieldPath: 'body.payload.""' },
      });
      const { task_id: _t, attempt: _a, ...withoutTask } = facts;
      const health = { ...withoutTask, payload_type: 'health', payload: nested(30) };
      expect((await post(resultPath('lab'), health, caller)).status).toBe(400);
      const heartbeat = aHeartbeatOf('lab-1', 'lab', { offline_backlog: { files: 2 ** 60, bytes: 0 } });
      expect(await post(heartbeatPath('lab'), heartbeat, caller)).toMatchObject({
        status: 400,
        body: { error: 'invalid_heartbeat', fieldPath: 'body.offline_backlog.files' },
      });
    });

    it('refuses an execution_result whose errorCode would not fit in its run (400 at body.payload.errorCode); a short one reconciles', async () => {
      const caller = worker('lab', 'lab-1');
      const task = await aTaskClaimedBy('lab-1');
      await aDelegatedRun(lifecycle, { commandId: task.message.commandId, taskId: task.taskId });
      const failed = (errorCode: string) =>
        anExecutionResult(task, {
          environment,
          worker_id: 'lab-1',
          payload: { status: 'failed', errorCode },
        });
      expect(await post(resultPath('lab'), failed('e'.repeat(150_000)), caller)).toMatchObject({
        status: 400,
        body: { error: 'invalid_envelope', fieldPath: 'body.payload.errorCode' },
      });
      expect(await post(resultPath('lab'), failed('script_not_allowed'), caller)).toMatchObject({
        status: 202,
        body: { reconciled: true },
      });
      expect((await lifecycle.getRun(task.message.commandId))?.run.status).toBe('NeedsReview');
    });

    it('answers a body within its limit but too large once stored with 400 unstorable_body, never 5xx', async () => {
      // A deployment with a result limit above DynamoDB's 400 KB item: the store refuses the item.
      const tableName = env.tableName ?? '';
      const table = { client: env.documentClient, tableName };
      const clients = { documents: env.documentClient, sqs: env.sqs };
      const workers = buildWorkerAdapters(
        { environment, tableName, settings: { ...DEFAULT_WORKER_SETTINGS, taskQueueUrls: lanes.urls } },
        clients,
      );
      const roomyApi = createCommandApi({
        queue: new SqsCommandQueue({ client: env.sqs, queueUrls: {} }),
        clientKeys: new DynamoDbClientKeyStore(table),
        runs: lifecycle,
        approvals: new DynamoDbApprovalStore(table),
        clock: { now: () => now },
        logger: aRecordingLogger(),
        maxBodyBytes: 32_768,
        isUnstorableInputError,
        workers: { ...workers.api, maxResultBodyBytes: 1_000_000 },
      });
      const task = await aTaskClaimedBy('lab-1');
      const facts = {
        schemaVersion: 1,
        id: randomUUID(),
        environment,
        worker_id: 'lab-1',
        site: 'lab',
        ts: at(0),
        task_id: task.taskId,
        attempt: 1,
        payload_type: 'facts',
        payload: { dump: 'x'.repeat(450_000) },
      };
      expect(await post(resultPath('lab'), facts, worker('lab', 'lab-1'), roomyApi)).toMatchObject({
        status: 400,
        body: { error: 'unstorable_body', fieldPath: 'body' },
      });
      expect(await tasks.listResultKeys(task.taskId)).toEqual([]);
    });

    it('still takes a deep but storable payload (20 levels) with large and small numbers', async () => {
      const task = await aTaskClaimedBy('lab-1');
      const envelope = anExecutionResult(task, {
        environment,
        worker_id: 'lab-1',
        payload: {
          status: 'succeeded',
          durationMs: 5,
          output: { deep: nested(18) as never, big: 2 ** 52, small: 1e-9 },
        },
      });
      expect((await post(resultPath('lab'), envelope, worker('lab', 'lab-1'))).status).toBe(202);
    });
  });
});
