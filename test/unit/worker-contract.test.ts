import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  resultIdempotencyKey,
  WORKER_HEARTBEAT_KINDS,
  WORKER_STATUSES,
  workerHeartbeatEventSchema,
  workerResultEnvelopeSchema,
  workerStatus,
  workerTaskMessageSchema,
  workerTaskQueueName,
} from '#contracts/worker-contract.js';
import { aHeartbeat } from '../support/worker-fixtures.js';

const envelope = {
  schemaVersion: 1,
  id: randomUUID(),
  environment: 'dev',
  worker_id: 'worker-1',
  site: 'lab',
  ts: '2026-11-25T10:00:00.000Z',
  task_id: randomUUID(),
  attempt: 1,
};

describe('worker contract (seed 004)', () => {
  it('accepts the four payload types and refuses any other, naming payload_type', () => {
    for (const [payload_type, payload] of [
      ['execution_result', { status: 'succeeded', durationMs: 5 }],
      ['facts', { hostname: 'h' }],
      ['logs', { lines: ['a'] }],
      ['health', { ok: true }],
    ] as const) {
      expect(workerResultEnvelopeSchema.safeParse({ ...envelope, payload_type, payload }).success).toBe(true);
    }
    const refused = workerResultEnvelopeSchema.safeParse({
      ...envelope,
      payload_type: 'metrics',
      payload: {},
    });
    expect(refused.success).toBe(false);
    expect(refused.error?.issues[0]?.path).toEqual(['payload_type']);
  });

  it('a health envelope needs no task; task payloads do', () => {
    const { task_id: _t, attempt: _a, ...bare } = envelope;
    expect(
      workerResultEnvelopeSchema.safeParse({ ...bare, payload_type: 'health', payload: {} }).success,
    ).toBe(true);
    const facts = workerResultEnvelopeSchema.safeParse({ ...bare, payload_type: 'facts', payload: {} });
    expect(facts.error?.issues.map((i) => i.path.join('.'))).toEqual(['task_id', 'attempt']);
  });

  it('keys results by task id, attempt and payload type', () => {
    expect(resultIdempotencyKey({ ...envelope, payload_type: 'execution_result' })).toBe(
      `${envelope.task_id}#1#execution_result`,
    );
    expect(resultIdempotencyKey({ id: envelope.id, payload_type: 'health' })).toBe(`health#${envelope.id}`);
  });

  it('a worker is offline once last_seen is older than the stale multiple of its interval', () => {
    const entry = { lastSeen: '2026-11-25T10:00:00.000Z', intervalMs: 10_000 };
    expect(workerStatus(entry, new Date('2026-11-25T10:00:30.000Z'))).toBe('online');
    expect(workerStatus(entry, new Date('2026-11-25T10:00:30.001Z'))).toBe('offline');
    expect(workerStatus(entry, new Date('2026-11-25T10:00:50.000Z'), 5)).toBe('online');
  });

  it('a deregistration (graceful shutdown) is a heartbeat kind and makes the worker stopped, however fresh', () => {
    expect(WORKER_HEARTBEAT_KINDS).toEqual(['registration', 'heartbeat', 'deregistration']);
    expect(WORKER_STATUSES).toContain('stopped');
    const deregistration = aHeartbeat({ kind: 'deregistration' });
    expect(workerHeartbeatEventSchema.parse(deregistration).kind).toBe('deregistration');
    expect(workerHeartbeatEventSchema.safeParse({ ...deregistration, kind: 'stopping' }).success).toBe(false);
    const entry = { lastSeen: '2026-11-25T10:00:00.000Z', intervalMs: 10_000 };
    const at = new Date('2026-11-25T10:00:01.000Z');
    expect(workerStatus({ ...entry, lastKind: 'deregistration' }, at)).toBe('stopped');
    expect(workerStatus({ ...entry, lastKind: 'deregistration' }, new Date('2026-12-25T10:00:00.000Z'))).toBe(
      'stopped',
    );
    // Heartbeats and registrations are judged by age, as before.
    expect(workerStatus({ ...entry, lastKind: 'heartbeat' }, at)).toBe('online');
    expect(workerStatus({ ...entry, lastKind: 'registration' }, at)).toBe('online');
  });

  it('task messages name a script, never a path, and a site that fits a queue name', () => {
    const message = {
      schemaVersion: 1,
      taskId: randomUUID(),
      attempt: 1,
      environment: 'dev',
      site: 'lab',
      input: { kind: 'execute_script', script: '../../bin/sh' },
      commandId: randomUUID(),
      correlationId: 'c',
      householdId: 'h',
      queuedAt: '2026-11-25T10:00:00.000Z',
    };
    expect(workerTaskMessageSchema.safeParse(message).error?.issues[0]?.path).toEqual(['input', 'script']);
    expect(workerTaskMessageSchema.safeParse({ ...message, site: 'Lab_1' }).error?.issues[0]?.path).toEqual([
      'site',
    ]);
    expect(workerTaskQueueName('dev', 'lab')).toBe('runlane-dev-worker-tasks-lab');
  });
});
