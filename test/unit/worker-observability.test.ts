import { describe, expect, it } from 'vitest';
import {
  averageTaskLatencyMs,
  delegationChange,
  findStuckTasks,
  stuckCandidates,
  workerHealth,
  workerMetrics,
  workerViews,
} from '#core/workers/observability.js';
import type { WorkerTaskRecord } from '#core/workers/ports.js';
import { aRegistryEntry, aTaskMessage } from '../support/worker-fixtures.js';

const NOW = new Date('2026-01-01T01:00:00.000Z');

function aTask(overrides: Partial<WorkerTaskRecord>): WorkerTaskRecord {
  const message = aTaskMessage();
  return {
    taskId: message.taskId,
    attempt: 1,
    site: 'lab',
    status: 'queued',
    message,
    queuedAt: message.queuedAt,
    ...overrides,
  };
}

describe('worker status from heartbeats', () => {
  it('is online within staleMultiple × interval of the last heartbeat and offline after', () => {
    const entries = [
      aRegistryEntry({ workerId: 'fresh', lastSeen: '2026-01-01T00:58:30.000Z' }),
      aRegistryEntry({ workerId: 'edge', lastSeen: '2026-01-01T00:58:30.000Z', intervalMs: 30_000 }),
      aRegistryEntry({ workerId: 'stale', lastSeen: '2026-01-01T00:58:29.999Z' }),
    ];
    const views = workerViews(entries, NOW, 3);
    expect(views.map((v) => [v.workerId, v.status, v.heartbeatAgeMs])).toEqual([
      ['edge', 'online', 90_000],
      ['fresh', 'online', 90_000],
      ['stale', 'offline', 90_001],
    ]);
    expect(workerViews(entries, NOW, 2).every((v) => v.status === 'offline')).toBe(true);
  });
});

describe('workerHealth', () => {
  it('lists workers with status, last_seen, age, version, executing and backlog, the queue depth and the flag', () => {
    const health = workerHealth({
      entries: [
        aRegistryEntry({
          workerId: 'w-b',
          site: 'lab',
          lastSeen: '2026-01-01T00:59:50.000Z',
          executing: 2,
          offlineBacklog: { files: 3, bytes: 900 },
        }),
        aRegistryEntry({ workerId: 'w-a', site: 'edge', lastSeen: '2026-01-01T00:00:00.000Z' }),
      ],
      depth: { lab: { visible: 4, inFlight: 1 }, edge: { visible: 0, inFlight: 0 } },
      delegationEnabled: true,
      now: NOW,
      staleMultiple: 3,
    });
    expect(health.workers.map((w) => [w.worker_id, w.status])).toEqual([
      ['w-a', 'offline'],
      ['w-b', 'online'],
    ]);
    expect(health.workers[1]).toMatchObject({
      worker_id: 'w-b',
      site: 'lab',
      status: 'online',
      last_seen: '2026-01-01T00:59:50.000Z',
      heartbeat_age_ms: 10_000,
      version: '1.0.0',
      executing: 2,
      offline_backlog: { files: 3, bytes: 900 },
    });
    expect(health.queue).toEqual({
      depth: { lab: { visible: 4, inFlight: 1 }, edge: { visible: 0, inFlight: 0 } },
      total: 5,
    });
    expect(health.delegation).toEqual({ enabled: true });
  });
});

describe('stopped workers (deregistered on a graceful shutdown)', () => {
  const live = aRegistryEntry({ workerId: 'live', lastSeen: '2026-01-01T00:59:50.000Z' });
  const entries = [
    live,
    aRegistryEntry({
      workerId: 'parked',
      lastSeen: '2026-01-01T00:00:00.000Z',
      lastKind: 'deregistration',
      stoppedAt: '2026-01-01T00:00:00.000Z',
    }),
    aRegistryEntry({ workerId: 'lost', lastSeen: '2026-01-01T00:00:00.000Z', lastKind: 'heartbeat' }),
  ];

  it('show as stopped (with stopped_at) in the views, health and metrics, not offline', () => {
    expect(workerViews(entries, NOW, 3).map((v) => [v.workerId, v.status])).toEqual([
      ['live', 'online'],
      ['lost', 'offline'],
      ['parked', 'stopped'],
    ]);
    const health = workerHealth({ entries, depth: {}, delegationEnabled: false, now: NOW, staleMultiple: 3 });
    expect(health.workers.find((w) => w.worker_id === 'parked')).toMatchObject({
      status: 'stopped',
      stopped_at: '2026-01-01T00:00:00.000Z',
    });
    expect(health.workers.find((w) => w.worker_id === 'lost')).not.toHaveProperty('stopped_at');
    const metrics = workerMetrics({
      entries,
      depth: {},
      failureCount: 0,
      finished: [],
      stuck: [],
      now: NOW,
      staleMultiple: 3,
    });
    expect(metrics.workers.map((w) => w.status)).toEqual(['online', 'offline', 'stopped']);
  });

  it('do not count as online for the delegation switch, even right after they stopped', () => {
    const justStopped = [
      aRegistryEntry({ lastSeen: '2026-01-01T00:59:59.000Z', lastKind: 'deregistration' }),
    ];
    expect(delegationChange({ enable: true, entries: justStopped, now: NOW, staleMultiple: 3 })).toEqual({
      allowed: false,
      reason: 'no_worker_online',
    });
    expect(
      delegationChange({ enable: true, entries: [...justStopped, live], now: NOW, staleMultiple: 3 }).allowed,
    ).toBe(true);
  });
});

describe('task figures', () => {
  it('averages queuedAt → finishedAt over finished tasks, null when none', () => {
    expect(averageTaskLatencyMs([])).toBeNull();
    expect(
      averageTaskLatencyMs([
        aTask({
          status: 'succeeded',
          queuedAt: '2026-01-01T00:00:00.000Z',
          finishedAt: '2026-01-01T00:00:01.000Z',
        }),
        aTask({
          status: 'failed',
          queuedAt: '2026-01-01T00:00:00.000Z',
          finishedAt: '2026-01-01T00:00:04.000Z',
        }),
        aTask({ status: 'executing' }),
      ]),
    ).toBe(2_500);
  });

  it('finds tasks executing past the threshold, oldest first, with the matching result key when one arrived', () => {
    const old = aTask({ status: 'executing', claimedBy: 'w-1', claimedAt: '2026-01-01T00:30:00.000Z' });
    const older = aTask({ status: 'executing', claimedBy: 'w-2', claimedAt: '2026-01-01T00:10:00.000Z' });
    const recent = aTask({ status: 'executing', claimedBy: 'w-1', claimedAt: '2026-01-01T00:59:00.000Z' });
    const executing = [old, recent, older];
    const threshold = 15 * 60_000;
    expect(stuckCandidates(executing, NOW, threshold).map((t) => t.taskId)).toEqual([
      old.taskId,
      older.taskId,
    ]);
    const keys = new Map([
      [old.taskId, [`${old.taskId}#1#logs`, `${old.taskId}#1#execution_result`]],
      [older.taskId, [`${older.taskId}#1#logs`]],
    ]);
    expect(findStuckTasks(executing, keys, NOW, threshold)).toEqual([
      {
        task_id: older.taskId,
        attempt: 1,
        site: 'lab',
        claimed_by: 'w-2',
        executing_since: '2026-01-01T00:10:00.000Z',
        age_ms: 50 * 60_000,
        result_key: null,
      },
      {
        task_id: old.taskId,
        attempt: 1,
        site: 'lab',
        claimed_by: 'w-1',
        executing_since: '2026-01-01T00:30:00.000Z',
        age_ms: 30 * 60_000,
        result_key: `${old.taskId}#1#execution_result`,
      },
    ]);
  });

  it('puts queue depth, failures, latency, heartbeat freshness and backlog per worker in the metrics', () => {
    const metrics = workerMetrics({
      entries: [
        aRegistryEntry({ lastSeen: '2026-01-01T00:59:00.000Z', offlineBacklog: { files: 2, bytes: 10 } }),
      ],
      depth: { lab: { visible: 2, inFlight: 1 } },
      failureCount: 4,
      finished: [
        aTask({
          status: 'succeeded',
          queuedAt: '2026-01-01T00:00:00.000Z',
          finishedAt: '2026-01-01T00:00:00.300Z',
        }),
      ],
      stuck: [],
      now: NOW,
      staleMultiple: 3,
    });
    expect(metrics).toEqual({
      queue_depth: 3,
      queue_depth_by_site: { lab: { visible: 2, inFlight: 1 } },
      task_failure_count: 4,
      average_task_latency_ms: 300,
      latency_sample_size: 1,
      workers: [
        {
          worker_id: 'worker-1',
          site: 'lab',
          status: 'online',
          heartbeat_freshness_ms: 60_000,
          offline_backlog: { files: 2, bytes: 10 },
        },
      ],
      stuck_tasks: [],
    });
  });
});

describe('delegationChange (seed: enable only after a worker is online)', () => {
  it('refuses to enable with no online worker, allows it with one, always allows disabling', () => {
    const stale = [aRegistryEntry({ lastSeen: '2026-01-01T00:00:00.000Z' })];
    const fresh = [aRegistryEntry({ lastSeen: '2026-01-01T00:59:59.000Z' })];
    expect(delegationChange({ enable: true, entries: [], now: NOW, staleMultiple: 3 })).toEqual({
      allowed: false,
      reason: 'no_worker_online',
    });
    expect(delegationChange({ enable: true, entries: stale, now: NOW, staleMultiple: 3 }).allowed).toBe(
      false,
    );
    expect(delegationChange({ enable: true, entries: fresh, now: NOW, staleMultiple: 3 }).allowed).toBe(true);
    expect(delegationChange({ enable: false, entries: [], now: NOW, staleMultiple: 3 }).allowed).toBe(true);
  });
});
