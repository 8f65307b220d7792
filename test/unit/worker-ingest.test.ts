import { describe, expect, it } from 'vitest';
import { parseWorkerBusEvent, workerEventDeadLetter } from '#core/workers/bus-event.js';
import { WorkerResultNotYetAcceptedError } from '#core/workers/errors.js';
import { createWorkerEventIngest, ingestWorkerEvent } from '#core/workers/ingest.js';
import type { RecordResultOutcome } from '#core/workers/ports.js';
import { parseWorkerResultEnvelope } from '#core/workers/validation.js';
import { aRecordingLogger } from '../support/factories.js';
import { aBusEvent, RecordingRunnerEventDeadLetters } from '../support/runner-event-ingest-fixtures.js';
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

describe('parseWorkerBusEvent', () => {
  it('takes an agent event with a string detail-type and a detail, leaving the detail to ingestWorkerEvent', () => {
    expect(parseWorkerBusEvent(aBusEvent('not checked here', 'WorkerStatus'))).toEqual({
      outcome: 'valid',
      detailType: 'WorkerStatus',
      detail: 'not checked here',
    });
  });

  it('refuses as invalid_event what is no EventBridge event with detail-type and detail', () => {
    const { detail: _d, ...noDetail } = aBusEvent({}, 'WorkerHeartbeat');
    for (const event of [undefined, 'x', [], {}, { ...aBusEvent({}), 'detail-type': 7 }, noDetail]) {
      expect(parseWorkerBusEvent(event), JSON.stringify(event)).toEqual({
        outcome: 'rejected',
        reason: 'invalid_event',
        rationale: '(root): not an EventBridge event with detail-type and detail',
      });
    }
  });

  it('refuses as unknown_detail_type an event from another source', () => {
    expect(parseWorkerBusEvent(aBusEvent({}, 'WorkerHeartbeat', { source: 'someone.else' }))).toEqual({
      outcome: 'rejected',
      reason: 'unknown_detail_type',
      rationale: 'source: "someone.else" is not runlane.agent',
    });
  });
});

describe('workerEventDeadLetter', () => {
  it('keeps the event as JSON with its detail-type, bus event id and detail id', () => {
    const event = aBusEvent({ id: 'evt-1' }, 'WorkerResult');
    expect(workerEventDeadLetter(event, 'unknown_task', 'detail.task_id: no task t-1')).toEqual({
      body: JSON.stringify(event),
      reason: 'unknown_task',
      rationale: 'detail.task_id: no task t-1',
      detailType: 'WorkerResult',
      busEventId: event.id,
      eventId: 'evt-1',
    });
  });

  it('leaves out the fields the event lacks or has as empty or non-strings', () => {
    expect(workerEventDeadLetter({ 'detail-type': '', id: 7, detail: 'x' }, 'invalid_event', 'r')).toEqual({
      body: '{"detail-type":"","id":7,"detail":"x"}',
      reason: 'invalid_event',
      rationale: 'r',
    });
    expect(workerEventDeadLetter(undefined, 'invalid_event', 'r')).toEqual({
      body: 'undefined',
      reason: 'invalid_event',
      rationale: 'r',
    });
  });

  it('falls back to String() for what JSON cannot hold', () => {
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    expect(workerEventDeadLetter(circular, 'invalid_event', 'r').body).toBe('[object Object]');
    expect(workerEventDeadLetter(10n, 'invalid_event', 'r').body).toBe('10');
  });
});

describe('createWorkerEventIngest', () => {
  function anIngest(overrides: Partial<ReturnType<typeof deps>> = {}) {
    const d = { ...deps(), ...overrides };
    const deadLetters = new RecordingRunnerEventDeadLetters();
    const logger = aRecordingLogger();
    return { ...d, deadLetters, logger, ingest: createWorkerEventIngest({ ...d, deadLetters, logger }) };
  }

  it('records a heartbeat from the bus event, dead-lettering nothing', async () => {
    const { ingest, registry, deadLetters } = anIngest();
    expect(await ingest(aBusEvent(aHeartbeat(), 'WorkerHeartbeat'))).toEqual({
      outcome: 'heartbeat_recorded',
      workerId: 'worker-1',
    });
    expect(registry.entries.size).toBe(1);
    expect(deadLetters.sent).toEqual([]);
  });

  it('records a result and logs its key, duplicate and reconciled flags', async () => {
    const { ingest, tasks, logger } = anIngest();
    const task = await tasks.createQueued(aTaskMessage());
    await tasks.claim({ taskId: task.taskId, workerId: 'worker-1', site: 'lab', now: NOW });
    const key = `${task.taskId}#1#execution_result`;
    expect(await ingest(aBusEvent(anExecutionResult(task), 'WorkerResult'))).toEqual({
      outcome: 'result_recorded',
      key,
      duplicate: false,
      reconciled: true,
    });
    expect(logger.lines).toContainEqual({
      level: 'info',
      message: 'worker result recorded',
      extra: { key, duplicate: false, reconciled: true, detail_type: 'WorkerResult' },
    });
  });

  it('dead-letters a refused detail with its reason and ids, returns it without the issues, and warns', async () => {
    const { ingest, deadLetters, logger } = anIngest();
    const envelope = anExecutionResult(aTaskMessage());
    const event = aBusEvent(envelope, 'WorkerResult');
    const result = await ingest(event);
    expect(result).toEqual({ outcome: 'rejected', reason: 'unknown_task', rationale: expect.any(String) });
    if (result.outcome !== 'rejected') return;
    expect(result.rationale).toMatch(/^detail\.task_id: no task /);
    expect(deadLetters.sent).toEqual([
      {
        body: JSON.stringify(event),
        reason: 'unknown_task',
        rationale: result.rationale,
        detailType: 'WorkerResult',
        busEventId: event.id,
        eventId: envelope.id,
      },
    ]);
    expect(logger.lines).toContainEqual({
      level: 'warn',
      message: 'worker event refused',
      extra: { reason: 'unknown_task', rationale: result.rationale },
    });
  });

  it('dead-letters what the envelope alone refuses: no event, another source', async () => {
    const { ingest, deadLetters } = anIngest();
    expect(await ingest('x')).toMatchObject({ outcome: 'rejected', reason: 'invalid_event' });
    expect(await ingest(aBusEvent(aHeartbeat(), 'WorkerHeartbeat', { source: 'other' }))).toMatchObject({
      outcome: 'rejected',
      reason: 'unknown_detail_type',
    });
    expect(deadLetters.sent.map((letter) => letter.reason)).toEqual(['invalid_event', 'unknown_detail_type']);
  });

  it('throws WorkerResultNotYetAcceptedError while the run is in progress, storing and dead-lettering nothing', async () => {
    const runInProgress: RecordResultOutcome = { outcome: 'run_in_progress' };
    const { ingest, deadLetters } = anIngest({ tasks: { recordResult: async () => runInProgress } as never });
    const task = aTaskMessage();
    const failure = ingest(aBusEvent(anExecutionResult(task), 'WorkerResult'));
    await expect(failure).rejects.toBeInstanceOf(WorkerResultNotYetAcceptedError);
    await expect(failure).rejects.toMatchObject({ key: `${task.taskId}#1#execution_result` });
    expect(deadLetters.sent).toEqual([]);
  });

  it('lets a dead-letter failure through, so Lambda retries the event', async () => {
    const { ingest, deadLetters } = anIngest();
    deadLetters.send = async () => {
      throw new Error('sqs down');
    };
    await expect(ingest('x')).rejects.toThrow('sqs down');
  });
});
