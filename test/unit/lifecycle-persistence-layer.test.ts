import { IdempotencyKeyError } from '@aws-lambda-powertools/idempotency';
import { describe, expect, it } from 'vitest';
import { systemClock } from '#core/base/clock.js';
import { LifecyclePersistenceLayer, toIdempotencyRecord } from '#core/lifecycle/persistence-layer.js';
import { completeRun, failRun, newRun } from '#core/lifecycle/run.js';
import { anEnvelope } from '../support/factories.js';

const unusedStore = {} as never;

describe('LifecyclePersistenceLayer', () => {
  it('keys on the commandId itself, never a hash or the SQS messageId', () => {
    const layer = new LifecyclePersistenceLayer({
      store: unusedStore,
      clock: systemClock,
      fallbackLockMs: 1000,
    });
    const envelope = anEnvelope();
    expect(layer.getHashedIdempotencyKey(envelope as never)).toBe(envelope.commandId);
  });

  it('fails closed when the commandId is missing', () => {
    const layer = new LifecyclePersistenceLayer({
      store: unusedStore,
      clock: systemClock,
      fallbackLockMs: 1000,
    });
    expect(() => layer.getHashedIdempotencyKey({ messageId: 'm-1' })).toThrow(IdempotencyKeyError);
    expect(() => layer.getHashedIdempotencyKey({ commandId: '' })).toThrow(IdempotencyKeyError);
  });

  it('refuses a non-positive fallback lock', () => {
    expect(
      () => new LifecyclePersistenceLayer({ store: unusedStore, clock: systemClock, fallbackLockMs: 0 }),
    ).toThrow(/fallbackLockMs/);
  });

  it('maps the seed vocabulary onto Powertools record states', () => {
    const now = new Date();
    const run = newRun(anEnvelope(), {
      attemptId: 'a',
      lockExpiresAt: now.getTime() + 5000,
      now,
      expiresAt: Math.floor(now.getTime() / 1000) + 3600,
    });
    expect(toIdempotencyRecord(run).getStatus()).toBe('INPROGRESS');
    expect(toIdempotencyRecord(run).inProgressExpiryTimestamp).toBe(now.getTime() + 5000);
    const done = completeRun(run, { status: 'Completed', outcomeCode: 'ok', rationale: 'r' }, now);
    expect(toIdempotencyRecord(done).getStatus()).toBe('COMPLETED');
    expect(toIdempotencyRecord(done).getResponse()).toEqual({
      keyStatus: 'Completed',
      status: 'Completed',
      outcomeCode: 'ok',
    });
    const rejected = failRun(run, { code: 'handler_failed', rationale: 'x', finalAttempt: true }, now);
    expect(toIdempotencyRecord(rejected).getStatus()).toBe('COMPLETED');
    expect(toIdempotencyRecord(rejected).getResponse()).toMatchObject({ keyStatus: 'Rejected' });
  });
});
