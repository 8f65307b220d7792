import { describe, expect, it } from 'vitest';
import { AGENT_DETAIL_TYPES, STALL_ROOT_CAUSES } from '../../functions/core/agent-events.js';
import { matchesEventPattern } from '../../functions/core/event-pattern.js';
import { EVENT_RULES, RUNNER_EVENTS_RULE } from '../../functions/core/event-rules.js';
import {
  createRunnerEventIngest,
  parseBusEvent,
  RUNNER_EVENT_REJECT_REASONS,
  STALL_METRIC_TIME_LIMITS,
  stallMetricTimestamp,
} from '../../functions/core/runner-event-ingest.js';
import { aRecordingLogger } from '../support/factories.js';
import { RecordingMetrics } from '../support/recording-metrics.js';
import {
  aBusEvent,
  aRunSummaryEvent,
  aStallEvent,
  busEventOf,
  InMemoryRunnerEventStore,
  RecordingRunnerEventDeadLetters,
} from '../support/runner-event-ingest-fixtures.js';

const NOW = new Date('2025-06-01T12:00:00.000Z');

function anIngest(options: { expectedEnvironment?: string } = {}) {
  const store = new InMemoryRunnerEventStore();
  const deadLetters = new RecordingRunnerEventDeadLetters();
  const metrics = new RecordingMetrics();
  const logger = aRecordingLogger();
  const ingest = createRunnerEventIngest({
    store,
    deadLetters,
    metrics,
    logger,
    clock: { now: () => NOW },
    ...options,
  });
  return { ingest, store, deadLetters, metrics, logger };
}

describe('runner event ingest', () => {
  it('stores a stall and counts it once under its root cause, command type and host, at its own ts', async () => {
    const { ingest, store, metrics } = anIngest({ expectedEnvironment: 'prod' });
    const stall = aStallEvent({ ts: '2025-06-01T11:58:30.000Z', rootCause: 'io_wait', host: 'h-7' });

    await expect(ingest(busEventOf(stall))).resolves.toEqual({
      outcome: 'stored',
      kind: 'stall',
      eventId: stall.id,
    });
    expect([...store.events.values()]).toEqual([stall]);
    expect(metrics.points).toEqual([
      {
        metric: 'runnerStalls',
        value: 1,
        dimensions: { RootCause: 'io_wait', CommandType: 'nightly-export', Host: 'h-7' },
        timestamp: new Date('2025-06-01T11:58:30.000Z'),
      },
    ]);
  });

  it('drops a resend of the same event as a duplicate: stored once, counted once', async () => {
    const { ingest, store, metrics } = anIngest();
    const stall = aStallEvent({ ts: NOW.toISOString() });
    await ingest(busEventOf(stall));
    // A resend after a crash: same detail, new bus event id.
    await expect(ingest(busEventOf({ ...stall }))).resolves.toMatchObject({ outcome: 'duplicate' });
    await expect(ingest(busEventOf({ ...stall }))).resolves.toMatchObject({ outcome: 'duplicate' });
    expect(store.events.size).toBe(1);
    expect(metrics.sum('runnerStalls')).toBe(1);
  });

  it('stores run summaries without counting a stall', async () => {
    const { ingest, store, metrics } = anIngest();
    const run = aRunSummaryEvent({ outcome: 'idle_timeout', exitCode: 124 });
    await expect(ingest(busEventOf(run))).resolves.toEqual({
      outcome: 'stored',
      kind: 'run',
      eventId: run.id,
    });
    expect([...store.events.values()]).toEqual([run]);
    expect(metrics.points).toEqual([]);
  });

  it('dead-letters an invalid detail with its field paths and never stores or counts it', async () => {
    const { ingest, store, deadLetters, metrics } = anIngest();
    const bad = { ...aStallEvent(), rootCause: 'gremlins', pid: -1 };
    const event = aBusEvent(bad);

    const result = await ingest(event);

    expect(result).toMatchObject({ outcome: 'rejected', reason: 'invalid_detail' });
    expect(deadLetters.sent).toHaveLength(1);
    const [letter] = deadLetters.sent;
    expect(letter).toMatchObject({
      reason: RUNNER_EVENT_REJECT_REASONS.invalidDetail,
      detailType: 'RunnerStall',
      busEventId: event.id,
      eventId: bad.id,
    });
    expect(letter?.rationale).toContain('detail.rootCause:');
    expect(letter?.rationale).toContain('detail.pid:');
    expect(JSON.parse(letter?.body ?? '')).toEqual(event);
    expect(store.events.size).toBe(0);
    expect(metrics.points).toEqual([]);
  });

  it('dead-letters a run summary under the stall detail type (schemas are strict)', async () => {
    const { ingest, deadLetters } = anIngest();
    await ingest(aBusEvent(aRunSummaryEvent(), AGENT_DETAIL_TYPES.stall));
    expect(deadLetters.sent.map((d) => d.reason)).toEqual(['invalid_detail']);
  });

  it('dead-letters events that are not agent events, naming what is wrong', async () => {
    const { ingest, deadLetters } = anIngest();
    await ingest(aBusEvent(aStallEvent(), 'RunnerHeartbeat'));
    await ingest(aBusEvent(aStallEvent(), AGENT_DETAIL_TYPES.stall, { source: 'runlane.lanes' }));
    await ingest(aBusEvent(aStallEvent(), 'constructor'));
    await ingest('not an event');
    await ingest({ source: 'runlane.agent', detail: {} });
    expect(deadLetters.sent.map((d) => [d.reason, d.rationale])).toEqual([
      ['unknown_detail_type', expect.stringContaining('"RunnerHeartbeat"')],
      ['unknown_detail_type', expect.stringContaining('"runlane.lanes"')],
      ['unknown_detail_type', expect.stringContaining('"constructor"')],
      ['invalid_event', 'event is not an object'],
      ['invalid_event', 'event has no detail-type'],
    ]);
    expect(deadLetters.sent[3]?.body).toBe('"not an event"');
  });

  it('dead-letters an event of another environment when it serves one, and accepts any when it does not', async () => {
    const strict = anIngest({ expectedEnvironment: 'prod' });
    const staging = aStallEvent({ environment: 'staging' });
    await expect(strict.ingest(busEventOf(staging))).resolves.toMatchObject({
      outcome: 'rejected',
      reason: 'environment_mismatch',
    });
    expect(strict.deadLetters.sent[0]?.rationale).toBe(
      'detail.environment: "staging" sent to the bus of environment "prod"',
    );
    expect(strict.metrics.points).toEqual([]);

    const local = anIngest();
    await expect(local.ingest(busEventOf(staging))).resolves.toMatchObject({ outcome: 'stored' });
  });

  it('throws when the store fails, so Lambda retries; nothing is counted or dead-lettered', async () => {
    const { ingest, store, deadLetters, metrics } = anIngest();
    store.failWith = new Error('ProvisionedThroughputExceededException');
    await expect(ingest(busEventOf(aStallEvent()))).rejects.toThrow('ProvisionedThroughputExceededException');
    expect(deadLetters.sent).toEqual([]);
    expect(metrics.points).toEqual([]);
  });

  it('throws when the DLQ refuses a poison event, so it is retried rather than lost', async () => {
    const { ingest, deadLetters } = anIngest();
    deadLetters.send = async () => {
      throw new Error('queue unavailable');
    };
    await expect(ingest(aBusEvent({}))).rejects.toThrow('queue unavailable');
  });

  it('keeps the event stored when the metric is refused, warning instead of throwing', async () => {
    const { ingest, store, metrics, logger } = anIngest();
    metrics.record = () => {
      throw new RangeError('bad value');
    };
    await expect(ingest(busEventOf(aStallEvent()))).resolves.toMatchObject({ outcome: 'stored' });
    expect(store.events.size).toBe(1);
    expect(logger.lines.find((l) => l.message === 'metric not recorded')?.extra.error).toContain('bad value');
  });

  it('makes agent strings valid dimension values (the stored event keeps them as sent)', async () => {
    const { ingest, store, metrics } = anIngest();
    const stall = aStallEvent({ host: ' høst-01 ', commandType: 'x'.repeat(300) });
    await ingest(busEventOf(stall));
    expect(metrics.points[0]?.dimensions).toEqual({
      RootCause: 'network',
      CommandType: 'x'.repeat(250),
      Host: 'h_st-01',
    });
    expect([...store.events.values()][0]?.host).toBe(' høst-01 ');
  });

  it('counts a stall at its ts, at receipt when ts is over 2 h ahead, and not at all when too old for CloudWatch', () => {
    const at = (offsetMs: number) => new Date(NOW.getTime() + offsetMs).toISOString();
    expect(stallMetricTimestamp(at(-60_000), NOW)).toEqual(new Date(NOW.getTime() - 60_000));
    expect(stallMetricTimestamp('2025-06-01T14:00:00+02:00', NOW)).toEqual(NOW);
    expect(stallMetricTimestamp(at(STALL_METRIC_TIME_LIMITS.maxAheadMs + 1), NOW)).toEqual(NOW);
    expect(stallMetricTimestamp(at(STALL_METRIC_TIME_LIMITS.maxAheadMs), NOW)).toEqual(
      new Date(NOW.getTime() + STALL_METRIC_TIME_LIMITS.maxAheadMs),
    );
    expect(stallMetricTimestamp(at(-STALL_METRIC_TIME_LIMITS.maxAgeMs - 1), NOW)).toBeUndefined();
  });

  it('stores but does not count a stall replayed from the spool after CloudWatch’s 14 days', async () => {
    const { ingest, store, metrics, logger } = anIngest();
    const old = aStallEvent({ ts: '2025-05-10T00:00:00.000Z' });
    await expect(ingest(busEventOf(old))).resolves.toMatchObject({ outcome: 'stored' });
    expect(store.events.size).toBe(1);
    expect(metrics.points).toEqual([]);
    expect(logger.lines.map((l) => l.message)).toContain('stall too old to count');
  });

  it('lets every root cause through the schema to the metric', async () => {
    const { ingest, metrics } = anIngest();
    for (const rootCause of STALL_ROOT_CAUSES) await ingest(busEventOf(aStallEvent({ rootCause })));
    expect(metrics.points.map((p) => p.dimensions.RootCause)).toEqual([...STALL_ROOT_CAUSES]);
  });
});

describe('parseBusEvent', () => {
  it('accepts both detail types and returns the parsed detail', () => {
    const stall = aStallEvent();
    const run = aRunSummaryEvent({ stallId: stall.id, outcome: 'hard_timeout', exitCode: 125 });
    expect(parseBusEvent(busEventOf(stall))).toEqual({ outcome: 'valid', kind: 'stall', detail: stall });
    expect(parseBusEvent(busEventOf(run))).toEqual({ outcome: 'valid', kind: 'run', detail: run });
  });

  it('keeps a rationale short enough for an SQS message attribute', () => {
    const detail = Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`extra${i}`, i]));
    const parsed = parseBusEvent(aBusEvent(detail));
    expect(parsed.outcome).toBe('rejected');
    expect(parsed.outcome === 'rejected' && parsed.rationale.length).toBeLessThanOrEqual(900);
  });
});

describe('the runner events rule', () => {
  it('is declared once in EVENT_RULES, routing both agent detail types to the ingest', () => {
    expect(EVENT_RULES).toContain(RUNNER_EVENTS_RULE);
    expect(RUNNER_EVENTS_RULE.target).toBe('runnerEventIngest');
    for (const detailType of [AGENT_DETAIL_TYPES.stall, AGENT_DETAIL_TYPES.runSummary]) {
      expect(matchesEventPattern(RUNNER_EVENTS_RULE.pattern, aBusEvent({}, detailType))).toBe(true);
    }
    expect(matchesEventPattern(RUNNER_EVENTS_RULE.pattern, aBusEvent({}, 'LaneBatchProcessed'))).toBe(false);
    expect(
      matchesEventPattern(
        RUNNER_EVENTS_RULE.pattern,
        aBusEvent({}, AGENT_DETAIL_TYPES.stall, { source: 'runlane.lanes' }),
      ),
    ).toBe(false);
  });
});
