import { describe, expect, it } from 'vitest';
import { ingestWorkerEvent } from '#core/workers/ingest.js';
import type { RecordResultOutcome } from '#core/workers/ports.js';
import { parseWorkerResultEnvelope } from '#core/workers/validation.js';
import {
  aHeartbeat,
  anExecutionResult,
  aTaskMessage,
  InMemoryWorkerRegistry,
  InMemoryWorkerTaskStore,
  WORKER_ENV_NAME,
} from '../support/worker-fixtures.js';

const NOW = new Date('2026-01-01T00:00:06.000Z');

function deps() {
  const tasks = new InMemoryWorkerTaskStore();
  const registry = new InMemoryWorkerRegistry();
  return { tasks, registry, environment: WORKER_ENV_NAME, clock: { now: () => NOW } };
}

describe('parseWorkerResultEnvelope', () => {
  const message = aTaskMessage();

  it('refuses a payload_type outside the four as unknown_payload_type at <root>.payload_type', () => {
    const parsed = parseWorkerResultEnvelope(
      { ...anExecutionResult(message), payload_type: 'metrics', payload: {} },
      'body',
      WORKER_ENV_NAME,
    );
    expect(parsed).toEqual({
      ok: false,
      code: 'unknown_payload_type',
      issues: [
        {
          fieldPath: 'body.payload_type',
          message: expect.stringContaining('facts, logs, execution_result, health'),
        },
      ],
    });
  });

  it('names every other problem as invalid_envelope with its field path', () => {
    const { attempt: _a, ...noAttempt } = anExecutionResult(message);
    const parsed = parseWorkerResultEnvelope(
      { ...noAttempt, payload: { status: 'maybe', durationMs: 1 }, extra: 1 },
      'body',
      WORKER_ENV_NAME,
    );
    expect(parsed.ok).toBe(false);
    if (parsed.ok) return;
    expect(parsed.code).toBe('invalid_envelope');
    expect(parsed.issues.map((issue) => issue.fieldPath).sort()).toEqual([
      'body.attempt',
      'body.extra',
      'body.payload.status',
    ]);
    expect(parseWorkerResultEnvelope('x', 'body', WORKER_ENV_NAME)).toMatchObject({
      ok: false,
      code: 'invalid_envelope',
    });
    expect(
      parseWorkerResultEnvelope({ ...anExecutionResult(message), payload_type: 7 }, 'body', WORKER_ENV_NAME),
    ).toMatchObject({ ok: false, code: 'invalid_envelope', issues: [{ fieldPath: 'body.payload_type' }] });
  });

  it('refuses an envelope of another environment', () => {
    expect(
      parseWorkerResultEnvelope(
        { ...anExecutionResult(message), environment: 'prod' },
        'body',
        WORKER_ENV_NAME,
      ),
    ).toMatchObject({ ok: false, code: 'wrong_environment', issues: [{ fieldPath: 'body.environment' }] });
  });
});

describe('ingestWorkerEvent', () => {
  it('records a WorkerHeartbeat in the registry', async () => {
    const d = deps();
    const heartbeat = aHeartbeat({ kind: 'registration' });
    expect(await ingestWorkerEvent({ detailType: 'WorkerHeartbeat', detail: heartbeat }, d)).toEqual({
      outcome: 'heartbeat_recorded',
      workerId: 'worker-1',
    });
    expect(await d.registry.list()).toMatchObject([
      { workerId: 'worker-1', site: 'lab', lastSeen: heartbeat.ts },
    ]);
  });

  it('records a WorkerResult once: the resend is a duplicate', async () => {
    const d = deps();
    const task = await d.tasks.createQueued(aTaskMessage());
    await d.tasks.claim({ taskId: task.taskId, workerId: 'worker-1', site: 'lab', now: NOW });
    const envelope = anExecutionResult(task);
    const event = { detailType: 'WorkerResult', detail: envelope };
    expect(await ingestWorkerEvent(event, d)).toEqual({
      outcome: 'result_recorded',
      key: `${task.taskId}#1#execution_result`,
      duplicate: false,
      reconciled: true,
    });
    expect(await ingestWorkerEvent(event, d)).toMatchObject({ outcome: 'result_recorded', duplicate: true });
    expect((await d.tasks.get(task.taskId))?.status).toBe('succeeded');
  });

  it('rejects, with a reason and field paths, what it cannot store, storing nothing', async () => {
    const d = deps();
    const task = await d.tasks.createQueued(aTaskMessage());
    const cases: [string, unknown, string][] = [
      ['WorkerStatus', {}, 'unknown_detail_type'],
      ['WorkerHeartbeat', { ...aHeartbeat(), interval_ms: 5 }, 'invalid_heartbeat'],
      ['WorkerHeartbeat', aHeartbeat({ environment: 'prod' }), 'wrong_environment'],
      ['WorkerResult', { ...anExecutionResult(task), payload_type: 'metrics' }, 'unknown_payload_type'],
      ['WorkerResult', { ...anExecutionResult(task), id: 'x' }, 'invalid_envelope'],
      ['WorkerResult', anExecutionResult(aTaskMessage()), 'unknown_task'],
    ];
    for (const [detailType, detail, reason] of cases) {
      const outcome = await ingestWorkerEvent({ detailType, detail }, d);
      expect(outcome, `${detailType} ${reason}`).toMatchObject({ outcome: 'rejected', reason });
      if (outcome.outcome === 'rejected') expect(outcome.rationale).toMatch(/^detail/);
    }
    expect(d.tasks.results.size).toBe(0);
    expect(d.registry.entries.size).toBe(0);
  });

  it('asks for a retry while the task’s command is still being executed', async () => {
    const runInProgress: RecordResultOutcome = { outcome: 'run_in_progress' };
    const d = { ...deps(), tasks: { recordResult: async () => runInProgress } };
    const task = aTaskMessage();
    expect(
      await ingestWorkerEvent({ detailType: 'WorkerResult', detail: anExecutionResult(task) }, d),
    ).toEqual({
      outcome: 'retry',
      reason: 'run_in_progress',
      key: `${task.taskId}#1#execution_result`,
    });
  });
});
