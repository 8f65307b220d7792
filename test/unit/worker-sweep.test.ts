import { describe, expect, it } from 'vitest';
import type { WorkerLogger } from '#core/lifecycle/lane-worker.js';
import type { DelegationDeadlines, ExpireDelegationOutcome, WorkerTaskRecord } from '#core/workers/ports.js';
import {
  createWorkerSweep,
  sweepWorkers,
  WORKER_SWEEP_EXECUTING_LIMIT,
  WORKER_SWEEP_INTERVAL_MINUTES,
} from '#core/workers/sweep.js';
import { RecordingMetrics } from '../support/recording-metrics.js';
import {
  aRegistryEntry,
  aTaskMessage,
  InMemoryWorkerRegistry,
  InMemoryWorkerTaskStore,
} from '../support/worker-fixtures.js';

const NOW = new Date('2026-03-01T12:00:00.000Z');
const MINUTE = 60_000;
const STUCK_AFTER = 15 * MINUTE;

const ago = (ms: number) => new Date(NOW.getTime() - ms).toISOString();

function aTask(overrides: Partial<WorkerTaskRecord> = {}): WorkerTaskRecord {
  const message = aTaskMessage();
  return {
    taskId: message.taskId,
    attempt: 1,
    site: 'lab',
    status: 'executing',
    message,
    queuedAt: ago(30 * MINUTE),
    claimedBy: 'worker-1',
    claimedAt: ago(MINUTE),
    ...overrides,
  };
}

function aLogger() {
  const lines: { level: string; message: string; extra: Record<string, unknown> }[] = [];
  const logger: WorkerLogger = {
    info: (message, extra = {}) => lines.push({ level: 'info', message, extra }),
    warn: (message, extra = {}) => lines.push({ level: 'warn', message, extra }),
    error: (message, extra = {}) => lines.push({ level: 'error', message, extra }),
  };
  return { logger, lines };
}

describe('sweepWorkers', () => {
  const sweep = (input: Partial<Parameters<typeof sweepWorkers>[0]>) =>
    sweepWorkers({
      entries: [],
      executing: [],
      executingTotal: input.executing?.length ?? 0,
      now: NOW,
      staleMultiple: 3,
      stuckAfterMs: STUCK_AFTER,
      ...input,
    });

  it('counts nothing, 0 everywhere, when there are no workers and no tasks', () => {
    expect(sweep({}).counts).toEqual({
      workers: 0,
      online: 0,
      offline: 0,
      stopped: 0,
      executing: 0,
      stuckExecuting: 0,
      offlineBacklogFiles: 0,
      offlineBacklogBytes: 0,
    });
  });

  it('calls a worker offline once its last heartbeat is older than staleMultiple × its own interval', () => {
    const result = sweep({
      entries: [
        // 90 s at a 30 s interval: exactly 3 intervals, still online.
        aRegistryEntry({ workerId: 'edge', lastSeen: ago(90_000), intervalMs: 30_000 }),
        aRegistryEntry({ workerId: 'late', lastSeen: ago(90_001), intervalMs: 30_000 }),
        // A slow heartbeat (5 min) is judged against its own interval.
        aRegistryEntry({
          workerId: 'slow',
          site: 'east',
          lastSeen: ago(14 * MINUTE),
          intervalMs: 5 * MINUTE,
        }),
        aRegistryEntry({
          workerId: 'gone',
          site: 'east',
          lastSeen: ago(3 * 60 * MINUTE),
          intervalMs: 30_000,
        }),
        // A clock ahead of ours is online.
        aRegistryEntry({ workerId: 'ahead', lastSeen: new Date(NOW.getTime() + MINUTE).toISOString() }),
      ],
    });
    expect(result.counts).toMatchObject({ workers: 5, online: 3, offline: 2 });
    // Longest silent first.
    expect(result.offline.map((worker) => worker.workerId)).toEqual(['gone', 'late']);
    expect(result.workers.find((worker) => worker.workerId === 'edge')?.status).toBe('online');
  });

  it('counts a deregistered (stopped) worker in neither online nor offline, however old its last report', () => {
    const result = sweep({
      entries: [
        aRegistryEntry({ workerId: 'live', lastSeen: ago(MINUTE) }),
        aRegistryEntry({ workerId: 'parked', lastSeen: ago(MINUTE), lastKind: 'deregistration' }),
        aRegistryEntry({
          workerId: 'retired',
          lastSeen: ago(20 * 24 * 60 * MINUTE),
          lastKind: 'deregistration',
        }),
        aRegistryEntry({ workerId: 'lost', lastSeen: ago(60 * MINUTE), lastKind: 'heartbeat' }),
      ],
    });
    expect(result.counts).toMatchObject({ workers: 4, online: 1, offline: 1, stopped: 2 });
    expect(result.offline.map((worker) => worker.workerId)).toEqual(['lost']);
  });

  it('takes the stale multiple it is given', () => {
    const entries = [aRegistryEntry({ lastSeen: ago(2 * MINUTE), intervalMs: 30_000 })];
    expect(sweep({ entries, staleMultiple: 3 }).counts.offline).toBe(1);
    expect(sweep({ entries, staleMultiple: 5 }).counts.offline).toBe(0);
  });

  it('counts a task stuck once it has executed longer than the threshold since its claim', () => {
    const stuck = aTask({ claimedAt: ago(STUCK_AFTER + 1), queuedAt: ago(60 * MINUTE) });
    const atThreshold = aTask({ claimedAt: ago(STUCK_AFTER) });
    const fresh = aTask({ claimedAt: ago(MINUTE), queuedAt: ago(60 * MINUTE) });
    const older = aTask({ claimedAt: ago(2 * STUCK_AFTER), site: 'east', claimedBy: 'w-9', attempt: 2 });
    // Not executing any more (the status entry was read before the result landed): not counted.
    const finished = aTask({ status: 'succeeded', claimedAt: ago(3 * STUCK_AFTER) });
    const result = sweep({ executing: [stuck, atThreshold, fresh, older, finished], executingTotal: 5 });
    expect(result.counts.stuckExecuting).toBe(2);
    expect(result.stuck).toEqual([
      {
        taskId: older.taskId,
        attempt: 2,
        site: 'east',
        claimedBy: 'w-9',
        executingSince: older.claimedAt,
        ageMs: 2 * STUCK_AFTER,
      },
      expect.objectContaining({ taskId: stuck.taskId, ageMs: STUCK_AFTER + 1 }),
    ]);
    expect(result.unread).toBe(0);
  });

  it('falls back to queuedAt for a record without a claim time', () => {
    const { claimedAt: _claimed, ...unclaimed } = aTask({ queuedAt: ago(STUCK_AFTER + MINUTE) });
    expect(sweep({ executing: [unclaimed] }).stuck[0]?.executingSince).toBe(unclaimed.queuedAt);
  });

  it('sums the offline backlog every worker last reported, online or not', () => {
    const result = sweep({
      entries: [
        aRegistryEntry({ workerId: 'a', offlineBacklog: { files: 3, bytes: 3000 } }),
        aRegistryEntry({
          workerId: 'b',
          lastSeen: ago(60 * MINUTE),
          offlineBacklog: { files: 4, bytes: 100 },
        }),
        aRegistryEntry({ workerId: 'c', lastSeen: NOW.toISOString() }),
      ],
    });
    expect(result.counts).toMatchObject({ offlineBacklogFiles: 7, offlineBacklogBytes: 3100, offline: 2 });
  });

  it('estimates past its read limit: the unread (older) tasks count as stuck when the oldest read is stuck', () => {
    const read = [
      aTask({ queuedAt: ago(20 * MINUTE), claimedAt: ago(MINUTE) }),
      aTask({ queuedAt: ago(40 * MINUTE), claimedAt: ago(STUCK_AFTER + MINUTE) }),
    ];
    const truncated = sweep({ executing: read, executingTotal: 10, limit: 2 });
    expect(truncated.unread).toBe(8);
    expect(truncated.counts).toMatchObject({ executing: 10, stuckExecuting: 1 + 8 });

    // The oldest read is not stuck: the unread ones are not counted.
    const notStuck = sweep({
      executing: [read[0] as WorkerTaskRecord, aTask({ queuedAt: ago(25 * MINUTE), claimedAt: ago(MINUTE) })],
      executingTotal: 10,
      limit: 2,
    });
    expect(notStuck.counts.stuckExecuting).toBe(0);
    expect(notStuck.unread).toBe(8);

    // Under the limit, a larger total is tasks that started after the read: nothing is estimated.
    expect(sweep({ executing: read, executingTotal: 10, limit: 5 }).unread).toBe(0);
    expect(WORKER_SWEEP_EXECUTING_LIMIT).toBe(1000);
  });

  it('refuses settings it cannot judge with', () => {
    expect(() => sweep({ staleMultiple: 0 })).toThrow(/staleMultiple must be a positive number/);
    expect(() => sweep({ stuckAfterMs: 0 })).toThrow(/stuckAfterMs must be above 0/);
    expect(() => sweep({ stuckAfterMs: 1441 * MINUTE })).toThrow(/at most 1440 minutes/);
    expect(() => sweep({ now: new Date('nope') })).toThrow(/valid date/);
  });
});

describe('createWorkerSweep', () => {
  async function setUp(options: { limit?: number } = {}) {
    const registry = new InMemoryWorkerRegistry([
      aRegistryEntry({
        workerId: 'w-online',
        lastSeen: ago(10_000),
        offlineBacklog: { files: 1, bytes: 10 },
      }),
      aRegistryEntry({
        workerId: 'w-offline',
        site: 'east',
        host: 'host-9',
        lastSeen: ago(10 * MINUTE),
        offlineBacklog: { files: 5, bytes: 50 },
      }),
    ]);
    const tasks = new InMemoryWorkerTaskStore();
    const stuck = await tasks.createQueued(aTaskMessage({ queuedAt: ago(40 * MINUTE) }));
    await tasks.claim({
      taskId: stuck.taskId,
      workerId: 'w-offline',
      site: 'lab',
      now: new Date(ago(20 * MINUTE)),
    });
    const running = await tasks.createQueued(aTaskMessage({ queuedAt: ago(2 * MINUTE) }));
    await tasks.claim({
      taskId: running.taskId,
      workerId: 'w-online',
      site: 'lab',
      now: new Date(ago(MINUTE)),
    });
    await tasks.createQueued(aTaskMessage({ queuedAt: ago(50 * MINUTE) })); // queued, not executing
    const metrics = new RecordingMetrics();
    const { logger, lines } = aLogger();
    const sweep = createWorkerSweep({
      environment: 'dev',
      staleMultiple: 3,
      stuckAfterMs: STUCK_AFTER,
      registry,
      tasks,
      metrics,
      logger,
      clock: { now: () => NOW },
      ...(options.limit !== undefined ? { executingLimit: options.limit } : {}),
    });
    return { sweep, metrics, lines, stuck, registry, tasks };
  }

  it('records the four metrics, [Environment] only, and warns per offline worker and per stuck task', async () => {
    const { sweep, metrics, lines, stuck } = await setUp();
    const result = await sweep();

    expect(result.counts).toEqual({
      workers: 2,
      online: 1,
      offline: 1,
      stopped: 0,
      executing: 2,
      stuckExecuting: 1,
      offlineBacklogFiles: 6,
      offlineBacklogBytes: 60,
    });
    expect(metrics.points).toEqual([
      { metric: 'workersOnline', value: 1, dimensions: {} },
      { metric: 'workersOffline', value: 1, dimensions: {} },
      { metric: 'workerTasksStuckExecuting', value: 1, dimensions: {} },
      { metric: 'workerOfflineBacklog', value: 6, dimensions: {} },
    ]);
    expect(lines.filter((line) => line.level === 'warn')).toEqual([
      {
        level: 'warn',
        message: 'worker offline',
        extra: {
          environment: 'dev',
          worker_id: 'w-offline',
          site: 'east',
          host: 'host-9',
          last_seen: ago(10 * MINUTE),
          heartbeat_age_seconds: 600,
          interval_ms: 30_000,
          offline_backlog: 5,
        },
      },
      {
        level: 'warn',
        message: 'worker task stuck in executing',
        extra: {
          environment: 'dev',
          task_id: stuck.taskId,
          attempt: 1,
          site: 'lab',
          claimed_by: 'w-offline',
          executing_since: ago(20 * MINUTE),
          age_seconds: 1200,
        },
      },
    ]);
    expect(lines.at(-1)).toMatchObject({
      level: 'info',
      message: 'worker sweep',
      extra: { environment: 'dev' },
    });
  });

  it('records 0 for every metric when nothing is wrong, so the alarms always have data', async () => {
    const metrics = new RecordingMetrics();
    const sweep = createWorkerSweep({
      environment: 'dev',
      staleMultiple: 3,
      stuckAfterMs: STUCK_AFTER,
      registry: new InMemoryWorkerRegistry(),
      tasks: new InMemoryWorkerTaskStore(),
      metrics,
      logger: aLogger().logger,
      clock: { now: () => NOW },
    });
    await sweep();
    expect(metrics.points.map((point) => [point.metric, point.value])).toEqual([
      ['workersOnline', 0],
      ['workersOffline', 0],
      ['workerTasksStuckExecuting', 0],
      ['workerOfflineBacklog', 0],
    ]);
  });

  it('says when the executing tasks exceed its read limit', async () => {
    const { sweep, lines } = await setUp({ limit: 1 });
    const result = await sweep();
    // Newest first: the running task is read, the older stuck one is not — and the read one is not stuck.
    expect(result.unread).toBe(1);
    expect(result.counts.stuckExecuting).toBe(0);
    expect(
      lines.find((line) => line.message === 'executing tasks beyond the sweep read limit')?.extra,
    ).toEqual({
      environment: 'dev',
      executing: 2,
      read: 1,
      unread: 1,
      counted_as_stuck: 0,
    });
  });

  it('records nothing when a store fails: the run fails, the alarms see no data', async () => {
    const metrics = new RecordingMetrics();
    const sweep = createWorkerSweep({
      environment: 'dev',
      staleMultiple: 3,
      stuckAfterMs: STUCK_AFTER,
      registry: { list: async () => Promise.reject(new Error('throttled')) },
      tasks: new InMemoryWorkerTaskStore(),
      metrics,
      logger: aLogger().logger,
    });
    await expect(sweep()).rejects.toThrow('throttled');
    expect(metrics.points).toEqual([]);
  });

  it('refuses bad settings when it is built, not on each run', () => {
    const base = {
      environment: 'dev',
      registry: new InMemoryWorkerRegistry(),
      tasks: new InMemoryWorkerTaskStore(),
      metrics: new RecordingMetrics(),
      logger: aLogger().logger,
    };
    expect(() =>
      createWorkerSweep({ ...base, staleMultiple: Number.NaN, stuckAfterMs: STUCK_AFTER }),
    ).toThrow(/createWorkerSweep: staleMultiple/);
    expect(() => createWorkerSweep({ ...base, staleMultiple: 3, stuckAfterMs: -1 })).toThrow(
      /createWorkerSweep: stuckAfterMs/,
    );
    expect(() =>
      createWorkerSweep({ ...base, staleMultiple: 3, stuckAfterMs: STUCK_AFTER, executingLimit: 0 }),
    ).toThrow(/executingLimit/);
    expect(WORKER_SWEEP_INTERVAL_MINUTES).toBe(5);
  });
});

describe('the sweep’s deadline check', () => {
  /** A scripted `DelegationDeadlines`: what each overdue task's expiry answers (or throws). */
  function deadlines(
    overdue: readonly WorkerTaskRecord[],
    answers: Record<string, ExpireDelegationOutcome | Error>,
  ): DelegationDeadlines & { readonly asked: string[]; readonly listedAt: Date[] } {
    const asked: string[] = [];
    const listedAt: Date[] = [];
    return {
      asked,
      listedAt,
      listOverdue: async (now, limit) => {
        listedAt.push(now);
        return overdue.slice(0, limit);
      },
      expireOverdue: async (task) => {
        asked.push(task.taskId);
        const answer = answers[task.taskId];
        if (answer instanceof Error) throw answer;
        return answer ?? { outcome: 'skipped', reason: 'changed' };
      },
    };
  }

  function aSweep(store: DelegationDeadlines, extra: { readonly deadlineLimit?: number } = {}) {
    const metrics = new RecordingMetrics();
    const { logger, lines } = aLogger();
    const sweep = createWorkerSweep({
      environment: 'dev',
      staleMultiple: 3,
      stuckAfterMs: STUCK_AFTER,
      registry: new InMemoryWorkerRegistry(),
      tasks: new InMemoryWorkerTaskStore(),
      metrics,
      logger,
      clock: { now: () => NOW },
      deadlines: store,
      ...extra,
    });
    return { sweep, metrics, lines };
  }

  it('expires each overdue delegation oldest first, warns per expired run and counts the rest', async () => {
    const [a, b, c, d] = [1, 2, 3, 4].map(() => aTask({ deadlineAt: ago(MINUTE) }));
    if (!a || !b || !c || !d) throw new Error('tasks');
    const store = deadlines([a, b, c, d], {
      [a.taskId]: { outcome: 'expired', commandId: a.message.commandId },
      [b.taskId]: { outcome: 'task_closed', commandId: b.message.commandId },
      [c.taskId]: { outcome: 'skipped', reason: 'run_in_progress' },
      [d.taskId]: new Error('throttled'),
    });
    const { sweep, metrics, lines } = aSweep(store);
    const result = await sweep();

    expect(store.listedAt).toEqual([NOW]);
    expect(store.asked).toEqual([a.taskId, b.taskId, c.taskId, d.taskId]);
    expect(result.deadlines).toEqual({
      overdue: 4,
      expired: [{ commandId: a.message.commandId, taskId: a.taskId }],
      tasksClosed: 1,
      skipped: 1,
      failed: 1,
    });
    expect(lines.filter((line) => line.level === 'warn')).toEqual([
      {
        level: 'warn',
        message: 'delegated run expired: no worker result by its deadline',
        extra: expect.objectContaining({
          environment: 'dev',
          task_id: a.taskId,
          command_id: a.message.commandId,
          site: 'lab',
          deadline_at: ago(MINUTE),
        }),
      },
    ]);
    expect(lines.filter((line) => line.level === 'error')).toEqual([
      expect.objectContaining({
        message: 'delegated run could not be expired',
        extra: expect.objectContaining({ task_id: d.taskId, error: 'Error: throttled' }),
      }),
    ]);
    // The metrics went out whatever the deadline check met.
    expect(metrics.points.map((point) => point.metric)).toEqual([
      'workersOnline',
      'workersOffline',
      'workerTasksStuckExecuting',
      'workerOfflineBacklog',
    ]);
    expect(lines.at(-1)).toMatchObject({
      message: 'worker sweep',
      extra: {
        delegations_overdue: 4,
        delegations_expired: 1,
        delegation_tasks_closed: 1,
        delegations_failed: 1,
      },
    });
  });

  it('expires at most the deadline limit per run', async () => {
    const overdue = [1, 2, 3].map(() => aTask({ deadlineAt: ago(MINUTE) }));
    const store = deadlines(overdue, {});
    const result = await aSweep(store, { deadlineLimit: 2 }).sweep();
    expect(store.asked).toHaveLength(2);
    expect(result.deadlines?.overdue).toBe(2);
  });

  it('logs and counts a failed read of the overdue tasks, and still returns the metrics’ result', async () => {
    const store: DelegationDeadlines = {
      listOverdue: async () => Promise.reject(new Error('throttled')),
      expireOverdue: async () => Promise.reject(new Error('never called')),
    };
    const { sweep, metrics, lines } = aSweep(store);
    const result = await sweep();
    expect(result.deadlines).toEqual({ overdue: 0, expired: [], tasksClosed: 0, skipped: 0, failed: 1 });
    expect(metrics.points).toHaveLength(4);
    expect(lines).toContainEqual(
      expect.objectContaining({ level: 'error', message: 'overdue delegations could not be read' }),
    );
  });

  it('leaves deadlines alone without the port (reads only)', async () => {
    const result = await createWorkerSweep({
      environment: 'dev',
      staleMultiple: 3,
      stuckAfterMs: STUCK_AFTER,
      registry: new InMemoryWorkerRegistry(),
      tasks: new InMemoryWorkerTaskStore(),
      metrics: new RecordingMetrics(),
      logger: aLogger().logger,
      clock: { now: () => NOW },
    })();
    expect(result.deadlines).toBeUndefined();
  });
});
