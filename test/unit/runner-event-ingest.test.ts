import { describe, expect, it } from 'vitest';
import {
  AGENT_DETAIL_TYPES,
  STALL_ROOT_CAUSES,
  SUPERVISOR_DETAIL_TYPES,
  TASK_EXIT_KINDS,
} from '#contracts/agent-events.js';
import { matchesEventPattern } from '#contracts/event-pattern.js';
import { EVENT_RULES, RUNNER_EVENTS_RULE } from '#contracts/event-rules.js';
import {
  createRunnerEventIngest,
  INGESTED_DETAIL_TYPES,
  parseBusEvent,
  RUNNER_EVENT_REJECT_REASONS,
  STALL_METRIC_TIME_LIMITS,
  stallMetricTimestamp,
} from '#core/runner/event-ingest.js';
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
import {
  aChildEvent,
  aHealthEvent,
  childBusEvent,
  healthBusEvent,
  InMemorySupervisorEventStore,
} from '../support/supervisor-event-fixtures.js';

const NOW = new Date('2025-06-01T12:00:00.000Z');

function anIngest(options: { expectedEnvironment?: string } = {}) {
  const store = new InMemoryRunnerEventStore();
  const supervisorStore = new InMemorySupervisorEventStore();
  const deadLetters = new RecordingRunnerEventDeadLetters();
  const metrics = new RecordingMetrics();
  const logger = aRecordingLogger();
  const ingest = createRunnerEventIngest({
    store,
    supervisorStore,
    deadLetters,
    metrics,
    logger,
    clock: { now: () => NOW },
    ...options,
  });
  return { ingest, store, supervisorStore, deadLetters, metrics, logger };
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
    expect(logger.lines.map((l) => l.message)).toContain('event too old to count');
  });

  it('lets every root cause through the schema to the metric', async () => {
    const { ingest, metrics } = anIngest();
    for (const rootCause of STALL_ROOT_CAUSES) await ingest(busEventOf(aStallEvent({ rootCause })));
    expect(metrics.points.map((p) => p.dimensions.RootCause)).toEqual([...STALL_ROOT_CAUSES]);
  });
});

describe('supervisor events in the ingest', () => {
  it('keeps a health report as its host’s latest and counts it at its own ts under Host', async () => {
    const { ingest, supervisorStore, metrics } = anIngest({ expectedEnvironment: 'prod' });
    const health = aHealthEvent({
      ts: '2025-06-01T11:59:00.000Z',
      dashboardLink: 'disconnected',
      children: { running: 2, failed: 1, quarantined: 1, targetCount: 3 },
    });

    await expect(ingest(healthBusEvent(health))).resolves.toEqual({
      outcome: 'stored',
      kind: 'health',
      eventId: health.id,
    });
    expect(await supervisorStore.listSupervisorHealth('prod')).toEqual([health]);
    const at = new Date('2025-06-01T11:59:00.000Z');
    expect(metrics.points).toEqual([
      { metric: 'supervisorHealthReports', value: 1, dimensions: { Host: 'sup-01' }, timestamp: at },
      { metric: 'supervisorDisconnectedReports', value: 1, dimensions: { Host: 'sup-01' }, timestamp: at },
      { metric: 'supervisorQuarantinedChildren', value: 1, dimensions: { Host: 'sup-01' }, timestamp: at },
    ]);
  });

  it('records 0 disconnected and 0 quarantined for a healthy report, so a healthy period has data', async () => {
    const { ingest, metrics } = anIngest();
    await ingest(healthBusEvent(aHealthEvent({ ts: NOW.toISOString() })));
    expect(metrics.values('supervisorDisconnectedReports')).toEqual([0]);
    expect(metrics.values('supervisorQuarantinedChildren')).toEqual([0]);
    expect(metrics.sum('supervisorHealthReports')).toBe(1);
  });

  it('does not let an older report replace a newer one, yet counts it for the period it describes', async () => {
    const { ingest, supervisorStore, metrics } = anIngest();
    const newer = aHealthEvent({ ts: '2025-06-01T11:59:00.000Z' });
    // Sampled while the link was down, spooled, replayed after the newer one arrived.
    const older = aHealthEvent({ ts: '2025-06-01T11:40:00.000Z', dashboardLink: 'disconnected' });
    await ingest(healthBusEvent(newer));
    metrics.clear();

    await expect(ingest(healthBusEvent(older))).resolves.toMatchObject({ outcome: 'stale', kind: 'health' });
    expect(await supervisorStore.listSupervisorHealth('prod')).toEqual([newer]);
    expect(metrics.points.find((p) => p.metric === 'supervisorDisconnectedReports')).toEqual({
      metric: 'supervisorDisconnectedReports',
      value: 1,
      dimensions: { Host: 'sup-01' },
      timestamp: new Date('2025-06-01T11:40:00.000Z'),
    });
  });

  it('drops a resend of the latest report without counting it again', async () => {
    const { ingest, metrics } = anIngest();
    const health = aHealthEvent({ ts: NOW.toISOString() });
    await ingest(healthBusEvent(health));
    await expect(ingest(healthBusEvent({ ...health }))).resolves.toMatchObject({ outcome: 'duplicate' });
    expect(metrics.sum('supervisorHealthReports')).toBe(1);
  });

  it('keeps one latest report per host and environment', async () => {
    const { ingest, supervisorStore } = anIngest();
    const a = aHealthEvent({ host: 'sup-a', ts: '2025-06-01T11:00:00.000Z' });
    const b = aHealthEvent({ host: 'sup-b', ts: '2025-06-01T10:00:00.000Z' });
    const aLater = aHealthEvent({ host: 'sup-a', ts: '2025-06-01T11:01:00.000Z', status: 'degraded' });
    const staging = aHealthEvent({ host: 'sup-a', environment: 'staging' });
    for (const event of [a, b, aLater, staging]) await ingest(healthBusEvent(event));
    expect(await supervisorStore.listSupervisorHealth('prod')).toEqual([aLater, b]);
    expect(await supervisorStore.listSupervisorHealth('staging')).toEqual([staging]);
  });

  it('stores child events once and counts exits by TaskExit kind and quarantines', async () => {
    const { ingest, supervisorStore, metrics } = anIngest();
    const ts = '2025-06-01T11:30:00.000Z';
    const exits = TASK_EXIT_KINDS.map((kind) => aChildEvent({ ts, exit: { kind } }));
    const quarantine = aChildEvent({ ts, event: 'quarantined', tokensLeft: 0, restartCount: 3 });
    const restarted = aChildEvent({ ts, event: 'restarted', exit: undefined });
    for (const event of [...exits, quarantine, restarted]) {
      await expect(ingest(childBusEvent(event))).resolves.toMatchObject({ outcome: 'stored', kind: 'child' });
    }
    await expect(ingest(childBusEvent({ ...quarantine }))).resolves.toMatchObject({ outcome: 'duplicate' });

    expect(supervisorStore.children.size).toBe(6);
    expect(
      metrics.points.filter((p) => p.metric === 'supervisorChildExits').map((p) => p.dimensions),
    ).toEqual(TASK_EXIT_KINDS.map((kind) => ({ ExitKind: kind, Host: 'sup-01' })));
    expect(metrics.points.filter((p) => p.metric === 'supervisorChildQuarantines')).toEqual([
      {
        metric: 'supervisorChildQuarantines',
        value: 1,
        dimensions: { Host: 'sup-01' },
        timestamp: new Date(ts),
      },
    ]);
    expect(metrics.points).toHaveLength(TASK_EXIT_KINDS.length + 1);
  });

  it('does not count an exit that carries no TaskExit, and says so', async () => {
    const { ingest, metrics, logger } = anIngest();
    const { exit: _exit, ...bare } = aChildEvent();
    await expect(ingest(childBusEvent(bare))).resolves.toMatchObject({ outcome: 'stored' });
    expect(metrics.points).toEqual([]);
    expect(logger.lines.map((l) => l.message)).toContain('exit without a TaskExit not counted');
  });

  it('dead-letters invalid supervisor events with their field paths, never storing them', async () => {
    const { ingest, supervisorStore, deadLetters, metrics } = anIngest({ expectedEnvironment: 'prod' });
    await ingest(healthBusEvent({ ...aHealthEvent(), dashboardLink: 'flaky' } as never));
    await ingest(childBusEvent({ ...aChildEvent(), exit: { kind: 'Crashed' } } as never));
    await ingest(aBusEvent(aHealthEvent(), SUPERVISOR_DETAIL_TYPES.child));
    await ingest(healthBusEvent(aHealthEvent({ environment: 'dev' })));
    expect(deadLetters.sent.map((d) => [d.reason, d.detailType])).toEqual([
      ['invalid_detail', 'SupervisorHealth'],
      ['invalid_detail', 'SupervisorChild'],
      ['invalid_detail', 'SupervisorChild'],
      ['environment_mismatch', 'SupervisorHealth'],
    ]);
    expect(deadLetters.sent[0]?.rationale).toContain('detail.dashboardLink:');
    expect(deadLetters.sent[1]?.rationale).toContain('detail.exit.kind:');
    expect(supervisorStore.latest.size + supervisorStore.children.size).toBe(0);
    expect(metrics.points).toEqual([]);
  });

  it('throws when the supervisor store fails, so Lambda retries', async () => {
    const { ingest, supervisorStore, metrics } = anIngest();
    supervisorStore.failWith = new Error('ThrottlingException');
    await expect(ingest(healthBusEvent(aHealthEvent()))).rejects.toThrow('ThrottlingException');
    await expect(ingest(childBusEvent(aChildEvent()))).rejects.toThrow('ThrottlingException');
    expect(metrics.points).toEqual([]);
  });

  it('stores but does not count a report replayed after CloudWatch’s 14 days', async () => {
    const { ingest, metrics, logger } = anIngest();
    await expect(
      ingest(healthBusEvent(aHealthEvent({ ts: '2025-05-10T00:00:00.000Z' }))),
    ).resolves.toMatchObject({ outcome: 'stored' });
    expect(metrics.points).toEqual([]);
    expect(logger.lines.map((l) => l.message)).toContain('event too old to count');
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
  it('is declared once in EVENT_RULES, routing the runner and supervisor detail types to the ingest', () => {
    expect(EVENT_RULES).toContain(RUNNER_EVENTS_RULE);
    expect(RUNNER_EVENTS_RULE.target).toBe('runnerEventIngest');
    expect(RUNNER_EVENTS_RULE.pattern['detail-type']).toEqual([...INGESTED_DETAIL_TYPES]);
    for (const detailType of [
      AGENT_DETAIL_TYPES.stall,
      AGENT_DETAIL_TYPES.runSummary,
      SUPERVISOR_DETAIL_TYPES.health,
      SUPERVISOR_DETAIL_TYPES.child,
    ]) {
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
