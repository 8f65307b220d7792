import { randomUUID } from 'node:crypto';
import { ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoDbActionExecutor } from '#adapters/dynamodb/action-executor.js';
import { DynamoDbLifecycleStore } from '#adapters/dynamodb/lifecycle-store.js';
import { DynamoDbWorkerTaskStore } from '#adapters/dynamodb/worker-task-store.js';
import { SqsWorkerTaskQueue } from '#adapters/sqs/worker-task-queue.js';
import { workerRoutePath } from '#contracts/api-routes.js';
import { LANES } from '#contracts/lanes.js';
import { type WorkerTaskMessage, workerTaskMessageSchema } from '#contracts/worker-contract.js';
import type { Caller } from '#core/api/caller.js';
import type { ApiRequest } from '#core/api/command-api.js';
import type { Clock } from '#core/base/clock.js';
import { DEFAULT_COMMAND_SETTINGS } from '#core/commands/types.js';
import { DEFAULT_WORKER_SETTINGS, type WorkerSettings } from '#core/workers/settings.js';
import { LocalEventSourceMapping } from '#local/emulators/event-source-mapping.js';
import { buildCommandApi } from '#wiring/api.js';
import { buildLaneWorker } from '#wiring/lane-worker.js';
import { aHouseholdCaller, anApprover, anOperatorCaller, aWorkerCaller } from '../support/api-requests.js';
import { aRecordingLogger } from '../support/factories.js';
import { RecordingTelemetry } from '../support/pipeline.js';
import { createTestEnvironment, type TestEnvironment } from '../support/test-environment.js';
import { aHeartbeat, aLogsEnvelope, anExecutionResult, aTaskMessage } from '../support/worker-fixtures.js';
import { aDelegatedRun, createSiteLanes } from '../support/worker-integration.js';

const LANE = 'runtime-agent-message-posted';
const laneDefinition = LANES.filter((lane) => lane.name === LANE);
const OPERATOR = anOperatorCaller();

/**
 * The caller a request comes from unless a test names one: on a worker route the worker its body
 * names at the path's site (what that host's role session proves); on a household route an
 * approver of hh-w; an operator elsewhere.
 */
function defaultCaller(path: string, body: unknown, environment: string): Caller {
  const site = /^\/api\/workers\/sites\/([^/]+)\//.exec(path)?.[1];
  if (site !== undefined) {
    const workerId = (body as { worker_id?: unknown } | undefined)?.worker_id;
    return aWorkerCaller(site, typeof workerId === 'string' ? workerId : 'worker-1', environment);
  }
  if (path.startsWith('/api/v1/agent/')) return anApprover('hh-w', 'alice');
  return OPERATOR;
}

/**
 * `/api/workers/*` through the real API module (`buildCommandApi`) on DynamoDB Local and the
 * SQS emulator, and the delegation branch through the real lane worker: message → approval →
 * delegated task on the site's lane → claim → result → reconciled run.
 */
describe('worker API and delegation on the emulators', () => {
  let env: TestEnvironment<typeof LANE>;
  let lanes: Awaited<ReturnType<typeof createSiteLanes>>;
  let environment: string;
  let api: ReturnType<typeof buildCommandApi>;
  let mapping: LocalEventSourceMapping;
  let tasks: DynamoDbWorkerTaskStore;
  let lifecycle: DynamoDbLifecycleStore;
  let actions: DynamoDbActionExecutor;
  const clock: Clock = { now: () => new Date() };

  beforeAll(async () => {
    env = await createTestEnvironment({ lanes: laneDefinition });
    environment = env.id;
    lanes = await createSiteLanes(env.sqs, environment, ['lab', 'edge']);
    const tableName = env.tableName ?? '';
    const workers: WorkerSettings = { ...DEFAULT_WORKER_SETTINGS, taskQueueUrls: lanes.urls };
    const clients = { documents: env.documentClient, sqs: env.sqs };
    const logger = aRecordingLogger();
    api = buildCommandApi(
      {
        tableName,
        queueUrls: { [LANE]: env.lane(LANE).queueUrl },
        maxBodyBytes: 32_768,
        environment,
        workers,
      },
      clients,
      logger,
      clock,
    );
    const process = buildLaneWorker(
      {
        environment,
        laneName: LANE,
        tableName,
        deadLetterQueueUrl: env.lane(LANE).dlqUrl,
        telemetryBusName: 'unused',
        maxReceiveCount: 3,
        fallbackLockMs: 10_000,
        retentionDays: 30,
        commandSettings: DEFAULT_COMMAND_SETTINGS,
        workers,
      },
      { ...clients, eventBridge: undefined as never },
      logger,
      { telemetry: new RecordingTelemetry(), clock },
    );
    mapping = new LocalEventSourceMapping({
      sqs: env.sqs,
      queueUrl: env.lane(LANE).queueUrl,
      queueArn: env.lane(LANE).queueArn,
      handler: (event, context) => process(event.Records, context),
      batchSize: 10,
      maximumBatchingWindowMs: 0,
      maxConcurrency: 1,
      functionTimeoutMs: 10_000,
      functionName: 'lane-worker',
      waitTimeSeconds: 0,
    });
    const table = { client: env.documentClient, tableName };
    tasks = new DynamoDbWorkerTaskStore({ ...table, environment });
    lifecycle = new DynamoDbLifecycleStore(table);
    actions = new DynamoDbActionExecutor(table);
  });
  afterAll(async () => {
    await mapping?.stop();
    await lanes?.remove();
    await env?.cleanup();
  });

  async function call(
    method: string,
    path: string,
    body?: unknown,
    headers?: Record<string, string>,
    caller: Caller = defaultCaller(path, body, environment),
  ) {
    const request: ApiRequest = {
      method,
      path,
      headers: headers ?? (body === undefined ? {} : { 'content-type': 'application/json' }),
      query: {},
      ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
      requestId: randomUUID(),
      caller,
    };
    const response = await api(request);
    return { status: response.statusCode, headers: response.headers, body: JSON.parse(response.body) };
  }

  function heartbeat(overrides: Parameters<typeof aHeartbeat>[0] = {}) {
    const event = aHeartbeat({ environment, ts: new Date().toISOString(), ...overrides });
    return call('POST', workerRoutePath('postWorkerHeartbeat', event.site), event);
  }

  /** Posts a result envelope on its site's route (as the worker it names, unless told). */
  function postResult(envelope: unknown, caller?: Caller) {
    const site = (envelope as { site?: unknown }).site;
    return call(
      'POST',
      workerRoutePath('postWorkerResult', typeof site === 'string' ? site : 'lab'),
      envelope,
      undefined,
      caller,
    );
  }

  async function drain() {
    const report = await mapping.drain({ idleMs: 300, timeoutMs: 30_000 });
    if (!report.drained) throw new Error('lane did not drain');
  }

  async function readRun(runId: string) {
    const response = await call('GET', `/api/v1/runs/${runId}`);
    expect(response.status).toBe(200);
    return response.body;
  }

  /** Posts a message, lets its approval be requested, approves it; returns the approval's run. */
  async function approve(text: string, conversationId = `conv-${randomUUID().slice(0, 8)}`) {
    const posted = await call(
      'POST',
      `/api/v1/agent/conversations/${conversationId}/messages`,
      { householdId: 'hh-w', text },
      undefined,
      aHouseholdCaller('hh-w'),
    );
    expect(posted.status).toBe(202);
    await drain();
    const approvalId = (await readRun(posted.body.commandId)).result.approvalIds[0] as string;
    const decided = await call(
      'POST',
      `/api/v1/agent/conversations/${conversationId}/approvals/${approvalId}`,
      {
        householdId: 'hh-w',
        decision: 'approve',
        decidedBy: 'alice',
      },
    );
    expect(decided.status).toBe(202);
    await drain();
    return readRun(decided.body.commandId);
  }

  const claimTaskPath = (taskId: string) => workerRoutePath('claimWorkerTask', 'lab', taskId);

  async function takeTaskMessage(site: string): Promise<WorkerTaskMessage[]> {
    const received = await env.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: lanes.urls[site], MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }),
    );
    return (received.Messages ?? []).map((m) => workerTaskMessageSchema.parse(JSON.parse(m.Body ?? '')));
  }

  async function aQueuedTask(overrides: Parameters<typeof aTaskMessage>[0] = {}) {
    return tasks.createQueued(aTaskMessage({ environment, ...overrides }), new Date());
  }

  describe('the delegation switch', () => {
    it('starts off (WORKER_DELEGATION_ENABLED default) and refuses to enable with no worker online; the flag stays off', async () => {
      expect(await call('GET', '/api/workers/delegation')).toMatchObject({
        status: 200,
        body: { enabled: false, source: 'default', online_workers: 0 },
      });
      const refused = await call('PUT', '/api/workers/delegation', { enabled: true });
      expect(refused).toMatchObject({
        status: 409,
        body: { error: 'no_worker_online', fieldPath: 'body.enabled', enabled: false },
      });
      expect((await call('GET', '/api/workers/delegation')).body.enabled).toBe(false);
    });

    it('counts a worker with a stale heartbeat as offline: still refused', async () => {
      const stale = new Date(Date.now() - 91_000).toISOString();
      expect((await heartbeat({ worker_id: 'stale-1', ts: stale })).status).toBe(202);
      const health = await call('GET', '/api/workers/health');
      expect(health.body.workers).toEqual([
        expect.objectContaining({ worker_id: 'stale-1', status: 'offline', last_seen: stale }),
      ]);
      expect((await call('PUT', '/api/workers/delegation', { enabled: true })).status).toBe(409);
    });

    it('enables once a worker’s heartbeat is in, and disables at any time', async () => {
      expect(await heartbeat({ worker_id: 'lab-1', site: 'lab', kind: 'registration' })).toMatchObject({
        status: 202,
        body: { accepted: true, worker_id: 'lab-1' },
      });
      // changed_by is the operator's proven principal; the body's changed_by is only a note.
      const alice = 'arn:aws:iam::000000000000:user/alice';
      const enabled = await call(
        'PUT',
        '/api/workers/delegation',
        { enabled: true, changed_by: 'mallory' },
        undefined,
        anOperatorCaller('alice'),
      );
      expect(enabled).toMatchObject({
        status: 200,
        body: { enabled: true, source: 'flag', changed_by: alice, online_workers: 1 },
      });
      expect((await call('GET', '/api/workers/delegation')).body).toMatchObject({
        enabled: true,
        changed_by: alice,
      });
      expect((await call('PUT', '/api/workers/delegation', { enabled: false })).body).toMatchObject({
        enabled: false,
        changed_by: 'arn:aws:iam::000000000000:user/runlane-operator',
      });
      expect((await call('PUT', '/api/workers/delegation', { enabled: true })).status).toBe(200);
    });

    it('answers a malformed body with 400 naming the field', async () => {
      expect(await call('PUT', '/api/workers/delegation', { enabled: 'yes' })).toMatchObject({
        status: 400,
        body: { error: 'validation_failed', fieldPath: 'body.enabled' },
      });
      expect(await call('PUT', '/api/workers/delegation', { enabled: true, admin: 1 })).toMatchObject({
        status: 400,
        body: { fieldPath: 'body.admin' },
      });
      expect(await call('DELETE', '/api/workers/delegation')).toMatchObject({
        status: 405,
        body: { error: 'method_not_allowed' },
      });
    });
  });

  describe('heartbeats and health', () => {
    it('shows each worker online/offline with last_seen, age, version, executing, backlog, and the queue depth per site', async () => {
      const ts = new Date().toISOString();
      await heartbeat({
        worker_id: 'edge-hb',
        site: 'edge',
        ts,
        version: '2.0.0',
        executing: 1,
        offline_backlog: { files: 3, bytes: 1200 },
      });
      const health = await call('GET', '/api/workers/health');
      expect(health.status).toBe(200);
      expect(health.body.workers).toContainEqual({
        worker_id: 'edge-hb',
        site: 'edge',
        host: 'host-1',
        status: 'online',
        last_seen: ts,
        heartbeat_age_ms: expect.any(Number),
        interval_ms: 30_000,
        registered_at: ts,
        version: '2.0.0',
        executing: 1,
        offline_backlog: { files: 3, bytes: 1200 },
      });
      expect(health.body.queue.depth).toEqual({
        edge: { visible: expect.any(Number), inFlight: expect.any(Number) },
        lab: { visible: expect.any(Number), inFlight: expect.any(Number) },
      });
      expect(typeof health.body.queue.total).toBe('number');
      expect(health.body.delegation).toEqual({ enabled: expect.any(Boolean) });
    });

    it('refuses a malformed heartbeat or one of another environment with 400 and the field path', async () => {
      const path = workerRoutePath('postWorkerHeartbeat', 'lab');
      expect(await call('POST', path, { ...aHeartbeat({ environment }), interval_ms: 10 })).toMatchObject({
        status: 400,
        body: { error: 'invalid_heartbeat', fieldPath: 'body.interval_ms' },
      });
      expect(await call('POST', path, aHeartbeat({ environment: 'prod' }))).toMatchObject({
        status: 400,
        body: { error: 'invalid_heartbeat', fieldPath: 'body.environment' },
      });
      expect(await call('POST', path, '{', { 'content-type': 'application/json' })).toMatchObject({
        status: 400,
        body: { error: 'invalid_json', fieldPath: 'body' },
      });
    });
  });

  describe('claims', () => {
    const claimPath = (taskId: string, site = 'lab') => workerRoutePath('claimWorkerTask', site, taskId);

    it('claims a queued task (200), then answers the next claimer 409 already_claimed with who has it', async () => {
      const task = await aQueuedTask();
      const first = await call('POST', claimPath(task.taskId), {
        worker_id: 'lab-1',
        site: 'lab',
        attempt: 1,
      });
      expect(first).toMatchObject({
        status: 200,
        body: {
          claimed: true,
          task: {
            task_id: task.taskId,
            attempt: 1,
            site: 'lab',
            status: 'executing',
            claimed_by: 'lab-1',
            message: task.message,
          },
        },
      });
      const second = await call('POST', claimPath(task.taskId), {
        worker_id: 'lab-2',
        site: 'lab',
        attempt: 1,
      });
      expect(second).toMatchObject({
        status: 409,
        body: { error: 'already_claimed', claimedBy: 'lab-1', status: 'executing', fieldPath: 'path.taskId' },
      });
    });

    it('answers the claimant’s repeated claim 200 reclaimed (its message came back), another worker still 409', async () => {
      const task = await aQueuedTask();
      const body = { worker_id: 'lab-1', site: 'lab', attempt: 1 };
      const first = await call('POST', claimPath(task.taskId), body);
      expect(first.status).toBe(200);
      expect(first.body).not.toHaveProperty('reclaimed');
      const again = await call('POST', claimPath(task.taskId), body);
      expect(again).toMatchObject({
        status: 200,
        body: {
          claimed: true,
          reclaimed: true,
          task: { status: 'executing', claimed_by: 'lab-1', claimed_at: first.body.task.claimed_at },
        },
      });
      expect(await call('POST', claimPath(task.taskId), { ...body, worker_id: 'lab-2' })).toMatchObject({
        status: 409,
        body: { error: 'already_claimed', claimedBy: 'lab-1' },
      });
    });

    it('gives exactly one 200 to two claims in parallel', async () => {
      const task = await aQueuedTask();
      const responses = await Promise.all(
        ['lab-1', 'lab-2'].map((worker_id) =>
          call('POST', claimPath(task.taskId), { worker_id, site: 'lab', attempt: 1 }),
        ),
      );
      expect(responses.map((r) => r.status).sort()).toEqual([200, 409]);
      const winner = responses.find((r) => r.status === 200)?.body.task.claimed_by;
      expect(responses.find((r) => r.status === 409)?.body.claimedBy).toBe(winner);
    });

    it('answers 403 wrong_site, 403 wrong_worker, 409 stale_attempt, 404 task_not_found and 400 for bad input', async () => {
      const task = await aQueuedTask({ workerId: 'lab-7' });
      const claim = (body: unknown, taskId = task.taskId) => call('POST', claimPath(taskId), body);
      // A worker of edge, on its own site's route, cannot claim a lab task.
      expect(
        await call('POST', claimPath(task.taskId, 'edge'), { worker_id: 'lab-7', site: 'edge', attempt: 1 }),
      ).toMatchObject({ status: 403, body: { error: 'wrong_site', fieldPath: 'path.taskId' } });
      expect(await claim({ worker_id: 'lab-7', site: 'edge', attempt: 1 })).toMatchObject({
        status: 403,
        body: { error: 'wrong_site', fieldPath: 'body.site' },
      });
      expect(await claim({ worker_id: 'lab-1', site: 'lab', attempt: 1 })).toMatchObject({
        status: 403,
        body: { error: 'wrong_worker', fieldPath: 'body.worker_id' },
      });
      expect(await claim({ worker_id: 'lab-7', site: 'lab', attempt: 2 })).toMatchObject({
        status: 409,
        body: { error: 'stale_attempt', fieldPath: 'body.attempt', attempt: 1 },
      });
      expect(await claim({ worker_id: 'lab-7', site: 'lab', attempt: 1 }, randomUUID())).toMatchObject({
        status: 404,
        body: { error: 'task_not_found', fieldPath: 'path.taskId' },
      });
      expect(await claim({ worker_id: 'lab-7', site: 'lab', attempt: 1 }, 'not-a-task')).toMatchObject({
        status: 400,
        body: { fieldPath: 'path.taskId' },
      });
      expect(await claim({ worker_id: 'lab-7', site: 'lab' })).toMatchObject({
        status: 400,
        body: { error: 'validation_failed', fieldPath: 'body.attempt' },
      });
      expect(
        await call('POST', claimPath(task.taskId), '{}', {}, aWorkerCaller('lab', 'lab-7', environment)),
      ).toMatchObject({
        status: 415,
        body: { fieldPath: 'headers.content-type' },
      });
      expect((await tasks.get(task.taskId))?.status).toBe('queued');
    });
  });

  describe('results', () => {
    async function anExecutingTask(commandId?: string) {
      const task = await aQueuedTask({
        ...(commandId ? { commandId } : {}),
        householdId: `hh-${randomUUID().slice(0, 8)}`,
      });
      const claimed = await tasks.claim({
        taskId: task.taskId,
        workerId: 'worker-1',
        site: 'lab',
        now: new Date(),
      });
      if (claimed.outcome !== 'claimed') throw new Error(claimed.outcome);
      return claimed.task;
    }

    it('accepts a result (202), answers its resend 202 duplicate:true, and reconciles it once', async () => {
      const { run } = await aDelegatedRun(lifecycle);
      const task = await anExecutingTask(run.commandId);
      const envelope = anExecutionResult(task, { environment });
      const first = await postResult(envelope);
      expect(first).toEqual({
        status: 202,
        headers: expect.any(Object),
        body: {
          accepted: true,
          duplicate: false,
          key: `${task.taskId}#1#execution_result`,
          reconciled: true,
        },
      });
      const resend = await postResult(envelope);
      expect(resend.body).toEqual({
        accepted: true,
        duplicate: true,
        key: `${task.taskId}#1#execution_result`,
      });
      expect(resend.status).toBe(202);
      const reconciled = await readRun(run.commandId);
      expect(reconciled.stages.filter((s: { name: string }) => s.name === 'worker_result')).toHaveLength(1);
      expect(await actions.history(task.message.householdId)).toHaveLength(1);
      expect((await tasks.get(task.taskId))?.status).toBe('succeeded');
    });

    it('refuses an unknown payload_type with 400 at body.payload_type and stores nothing', async () => {
      const task = await anExecutingTask();
      const response = await postResult({
        ...aLogsEnvelope(task),
        environment,
        payload_type: 'metrics',
      });
      expect(response).toMatchObject({
        status: 400,
        body: { error: 'unknown_payload_type', fieldPath: 'body.payload_type' },
      });
      expect(await tasks.listResultKeys(task.taskId)).toEqual([]);
    });

    it('refuses any other malformed envelope with 400 invalid_envelope and the field path', async () => {
      const task = await anExecutingTask();
      const envelope = anExecutionResult(task, { environment });
      const cases: [unknown, string][] = [
        [{ ...envelope, payload: { status: 'succeeded' } }, 'body.payload.durationMs'],
        [{ ...envelope, task_id: 'nope' }, 'body.task_id'],
        [{ ...envelope, environment: 'prod' }, 'body.environment'],
        [{ ...envelope, extra: true }, 'body.extra'],
      ];
      for (const [body, fieldPath] of cases) {
        expect(await postResult(body)).toMatchObject({
          status: 400,
          body: { error: 'invalid_envelope', fieldPath },
        });
      }
      expect(await tasks.listResultKeys(task.taskId)).toEqual([]);
    });

    it('answers 404 unknown_task for a result of no task', async () => {
      expect(await postResult(anExecutionResult({ taskId: randomUUID() }, { environment }))).toMatchObject({
        status: 404,
        body: { error: 'unknown_task', fieldPath: 'body.task_id' },
      });
    });

    it('answers 503 with retry-after while the task’s command is still being recorded, storing nothing', async () => {
      const { run, finish } = await aDelegatedRun(lifecycle, { finished: false });
      const task = await anExecutingTask(run.commandId);
      const envelope = anExecutionResult(task, { environment });
      const busy = await postResult(envelope);
      expect(busy).toMatchObject({
        status: 503,
        body: { error: 'run_in_progress' },
        headers: { 'retry-after': '5' },
      });
      expect(await tasks.listResultKeys(task.taskId)).toEqual([]);
      await finish();
      expect(await postResult(envelope)).toMatchObject({
        status: 202,
        body: { duplicate: false, reconciled: true },
      });
    });
  });

  describe('delegated execution, end to end', () => {
    it('queues a task on the site’s lane instead of executing, and reconciles the worker’s result into the run', async () => {
      await heartbeat({ worker_id: 'lab-1', site: 'lab' });
      expect((await call('PUT', '/api/workers/delegation', { enabled: true })).status).toBe(200);
      await takeTaskMessage('lab'); // leftovers of other tests

      const run = await approve('please collect facts on site lab');
      // The lane message is done (key Completed) but the run waits for the worker's result.
      expect(run).toMatchObject({ status: 'Running', commandType: 'agent.approval.decided' });
      expect(
        run.stages.map((s: { name: string; outcomeCode?: string; endedAt?: string }) => [
          s.name,
          s.outcomeCode,
          s.endedAt === undefined,
        ]),
      ).toEqual([
        ['execute', 'action_delegated', false],
        ['delegated', undefined, true],
      ]);
      expect(run.result).toMatchObject({ action: 'collect_facts', site: 'lab', kind: 'collect_facts' });
      const taskId = run.result.taskId as string;
      const messages = await takeTaskMessage('lab');
      expect(messages).toEqual([
        expect.objectContaining({
          taskId,
          site: 'lab',
          commandId: run.commandId,
          input: { kind: 'collect_facts' },
        }),
      ]);
      expect(await actions.history('hh-w')).not.toContainEqual(
        expect.objectContaining({ commandId: run.commandId }),
      );

      const claim = await call('POST', claimTaskPath(taskId), {
        worker_id: 'lab-1',
        site: 'lab',
        attempt: messages[0]?.attempt,
      });
      expect(claim.status).toBe(200);
      const result = anExecutionResult({ taskId }, { environment, worker_id: 'lab-1' });
      expect((await postResult(result)).body).toMatchObject({ reconciled: true });

      const reconciled = await readRun(run.commandId);
      expect(reconciled.status).toBe('Completed');
      expect(
        reconciled.stages.map((s: { name: string; outcomeCode?: string }) => [s.name, s.outcomeCode]),
      ).toEqual([
        ['execute', 'action_delegated'],
        ['delegated', 'worker_task_succeeded'],
      ]);
      expect(await actions.history('hh-w')).toContainEqual(
        expect.objectContaining({
          commandId: run.commandId,
          action: 'collect_facts',
          worker: expect.objectContaining({ taskId, workerId: 'lab-1', status: 'succeeded' }),
        }),
      );
    });

    it('moves the run to NeedsReview with worker_task_failed when the worker reports a failure', async () => {
      await heartbeat({ worker_id: 'lab-1', site: 'lab' });
      await call('PUT', '/api/workers/delegation', { enabled: true });
      const run = await approve('run script disk-report on lab');
      const taskId = run.result.taskId as string;
      await call('POST', claimTaskPath(taskId), {
        worker_id: 'lab-1',
        site: 'lab',
        attempt: 1,
      });
      const failed = anExecutionResult(
        { taskId },
        { environment, worker_id: 'lab-1', payload: { status: 'failed', errorCode: 'script_not_allowed' } },
      );
      expect((await postResult(failed)).status).toBe(202);
      const reconciled = await readRun(run.commandId);
      expect(reconciled.status).toBe('NeedsReview');
      expect(reconciled.signals).toContainEqual(
        expect.objectContaining({
          type: 'worker_task_failed',
          RequiresHumanReview: true,
          code: 'script_not_allowed',
        }),
      );
      const queue = await call('GET', '/api/v1/review-queue');
      expect(queue.body.runs.map((r: { runId: string }) => r.runId)).toContain(run.commandId);
    });

    it('fails closed with no_worker_online when delegation is on but no worker of the site is online', async () => {
      await heartbeat({ worker_id: 'lab-1', site: 'lab' });
      await call('PUT', '/api/workers/delegation', { enabled: true });
      const run = await approve('collect facts on site faraway');
      expect(run.status).toBe('NeedsReview');
      expect(run.stages.at(-1)).toMatchObject({ outcomeCode: 'no_worker_online' });
      expect(run.signals).toEqual([
        expect.objectContaining({ type: 'no_worker_online', RequiresHumanReview: true }),
      ]);
    });

    it('executes in-process, as before, while delegation is off', async () => {
      await call('PUT', '/api/workers/delegation', { enabled: false });
      await takeTaskMessage('lab');
      const run = await approve('collect facts on site lab');
      expect(run).toMatchObject({ status: 'Completed', result: { executedNow: true } });
      expect(run.stages.at(-1)).toMatchObject({ outcomeCode: 'action_executed' });
      expect(await takeTaskMessage('lab')).toEqual([]);
    });
  });
});

describe('worker metrics on the emulators', () => {
  let env: TestEnvironment<never>;
  let lanes: Awaited<ReturnType<typeof createSiteLanes>>;
  let environment: string;
  let api: ReturnType<typeof buildCommandApi>;
  let tasks: DynamoDbWorkerTaskStore;
  let now = new Date('2026-03-01T12:00:00.000Z');
  const at = (offsetMs: number) => new Date(now.getTime() + offsetMs);

  beforeAll(async () => {
    env = await createTestEnvironment({ lanes: [] });
    environment = env.id;
    lanes = await createSiteLanes(env.sqs, environment, ['lab']);
    const tableName = env.tableName ?? '';
    api = buildCommandApi(
      {
        tableName,
        queueUrls: {},
        maxBodyBytes: 32_768,
        environment,
        workers: { ...DEFAULT_WORKER_SETTINGS, taskQueueUrls: lanes.urls, stuckTaskAfterMs: 15 * 60_000 },
      },
      { documents: env.documentClient, sqs: env.sqs },
      aRecordingLogger(),
      { now: () => now },
    );
    tasks = new DynamoDbWorkerTaskStore({ client: env.documentClient, tableName, environment });
  });
  afterAll(async () => {
    await lanes?.remove();
    await env?.cleanup();
  });

  /** Posts a heartbeat or result on its site's route, as the worker it names. */
  async function post(
    route: 'postWorkerHeartbeat' | 'postWorkerResult',
    body: { readonly site: string; readonly worker_id: string; readonly [field: string]: unknown },
  ) {
    const response = await api({
      method: 'POST',
      path: workerRoutePath(route, body.site),
      headers: { 'content-type': 'application/json' },
      query: {},
      body: JSON.stringify(body),
      requestId: randomUUID(),
      caller: aWorkerCaller(body.site, body.worker_id, environment),
    });
    return { status: response.statusCode, body: JSON.parse(response.body) };
  }

  function get(path: string): ApiRequest {
    return { method: 'GET', path, headers: {}, query: {}, requestId: 'r', caller: OPERATOR };
  }

  it('reports queue depth, failures, average latency, heartbeat freshness and backlog per worker, and stuck tasks', async () => {
    await post(
      'postWorkerHeartbeat',
      aHeartbeat({ environment, ts: at(-10_000).toISOString(), offline_backlog: { files: 2, bytes: 512 } }),
    );
    // Two finished tasks: 2 s and 4 s from queuedAt to the result's arrival.
    for (const [latencyMs, status] of [
      [2_000, 'succeeded'],
      [4_000, 'failed'],
    ] as const) {
      const task = await tasks.createQueued(
        aTaskMessage({ environment, queuedAt: at(-latencyMs).toISOString() }),
        at(-latencyMs),
      );
      await tasks.claim({
        taskId: task.taskId,
        workerId: 'worker-1',
        site: 'lab',
        now: at(-latencyMs + 100),
      });
      const result = anExecutionResult(task, { environment, payload: { status } });
      expect((await post('postWorkerResult', result)).status).toBe(202);
    }
    // Claimed 20 minutes ago, its logs arrived but no execution_result: stuck, no result key.
    const silent = await tasks.createQueued(
      aTaskMessage({ environment, queuedAt: at(-21 * 60_000).toISOString() }),
      at(-21 * 60_000),
    );
    await tasks.claim({ taskId: silent.taskId, workerId: 'worker-1', site: 'lab', now: at(-20 * 60_000) });
    await post('postWorkerResult', { ...aLogsEnvelope(silent), environment });
    // Claimed 30 minutes ago; an execution_result from another worker arrived and was kept, not applied.
    const orphan = await tasks.createQueued(
      aTaskMessage({ environment, queuedAt: at(-31 * 60_000).toISOString() }),
      at(-31 * 60_000),
    );
    await tasks.claim({ taskId: orphan.taskId, workerId: 'worker-1', site: 'lab', now: at(-30 * 60_000) });
    // (The API refuses another worker's result for a task; the bus ingest keeps it, unapplied.)
    await tasks.recordResult(anExecutionResult(orphan, { environment, worker_id: 'worker-9' }), now);
    // Claimed a minute ago: not stuck.
    const busy = await tasks.createQueued(aTaskMessage({ environment }), at(-60_000));
    await tasks.claim({ taskId: busy.taskId, workerId: 'worker-1', site: 'lab', now: at(-60_000) });
    // One task waiting on the lane.
    await post(
      'postWorkerHeartbeat',
      aHeartbeat({ environment, worker_id: 'worker-2', ts: at(-200_000).toISOString() }),
    );
    await new SqsWorkerTaskQueue({ client: env.sqs, queueUrls: lanes.urls }).send(
      aTaskMessage({ environment }),
    );

    const metrics = await api(get('/api/workers/metrics'));
    expect(metrics.statusCode).toBe(200);
    expect(JSON.parse(metrics.body)).toEqual({
      queue_depth: 1,
      queue_depth_by_site: { lab: { visible: 1, inFlight: 0 } },
      task_failure_count: 1,
      average_task_latency_ms: 3_000,
      latency_sample_size: 2,
      workers: [
        {
          worker_id: 'worker-1',
          site: 'lab',
          status: 'online',
          heartbeat_freshness_ms: 10_000,
          offline_backlog: { files: 2, bytes: 512 },
        },
        {
          worker_id: 'worker-2',
          site: 'lab',
          status: 'offline',
          heartbeat_freshness_ms: 200_000,
          offline_backlog: { files: 0, bytes: 0 },
        },
      ],
      stuck_tasks: [
        {
          task_id: orphan.taskId,
          attempt: 1,
          site: 'lab',
          claimed_by: 'worker-1',
          executing_since: at(-30 * 60_000).toISOString(),
          age_ms: 30 * 60_000,
          result_key: `${orphan.taskId}#1#execution_result`,
        },
        {
          task_id: silent.taskId,
          attempt: 1,
          site: 'lab',
          claimed_by: 'worker-1',
          executing_since: at(-20 * 60_000).toISOString(),
          age_ms: 20 * 60_000,
          result_key: null,
        },
      ],
    });
  });

  it('shows a worker going offline once its heartbeat is older than the stale multiple', async () => {
    now = new Date(now.getTime() + 60_000);
    const health = await api(get('/api/workers/health'));
    const body = JSON.parse(health.body);
    expect(body.workers.find((w: { worker_id: string }) => w.worker_id === 'worker-1')).toMatchObject({
      status: 'online',
      heartbeat_age_ms: 70_000,
    });
    now = new Date(now.getTime() + 21_000);
    const later = JSON.parse((await api(get('/api/workers/health'))).body);
    expect(later.workers.find((w: { worker_id: string }) => w.worker_id === 'worker-1')).toMatchObject({
      status: 'offline',
      heartbeat_age_ms: 91_000,
    });
  });
});
