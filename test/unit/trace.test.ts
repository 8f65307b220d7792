import { describe, expect, it } from 'vitest';
import type { RunRecord } from '#contracts/lifecycle.js';
import { completeRun, failRun, newRun, takeOverRun } from '#core/lifecycle/run.js';
import { buildTrace, logsInsightsQuery, traceFrom } from '#core/trace/trace.js';
import { anIngestionEnvelope } from '../support/factories.js';

const at = (s: number) => new Date(Date.UTC(2026, 10, 25, 10, 0, s));

function history() {
  const envelope = anIngestionEnvelope({}, { correlationId: 'corr-1', issuedAt: at(0).toISOString() });
  let old = newRun(envelope, { attemptId: 'a1', lockExpiresAt: at(30).getTime(), now: at(1), expiresAt: 1 });
  old = failRun(old, { code: 'handler_failed', rationale: 'boom', finalAttempt: true }, at(2));
  const replayEnvelope = anIngestionEnvelope(
    {},
    { correlationId: 'corr-1', replayOf: old.commandId, issuedAt: at(10).toISOString() },
  );
  let replay = newRun(replayEnvelope, {
    attemptId: 'b1',
    lockExpiresAt: at(40).getTime(),
    now: at(11),
    expiresAt: 1,
  });
  replay = completeRun(
    replay,
    { status: 'Completed', outcomeCode: 'ingestion_recorded', rationale: 'ok' },
    at(12),
  );
  return { old, replay };
}

describe('buildTrace', () => {
  it('orders acceptance, attempts, signals, dead letters and replay links in time', () => {
    const { old, replay } = history();
    const trace = buildTrace('corr-1', [
      { run: replay, signals: replay.signals },
      { run: old, signals: old.signals },
    ]);
    expect(trace.runs.map((r) => r.run.runId)).toEqual([old.runId, replay.runId]);
    expect(trace.timeline.map((e) => [e.kind, e.runId === old.runId ? 'old' : 'new'])).toEqual([
      ['accepted', 'old'],
      ['attempt_started', 'old'],
      ['signal', 'old'],
      ['attempt_ended', 'old'],
      ['dead_lettered', 'old'],
      ['accepted', 'new'],
      ['replay_of', 'new'],
      ['replayed_as', 'old'],
      ['attempt_started', 'new'],
      ['attempt_ended', 'new'],
      ['finalized', 'new'],
    ]);
    expect(trace.timeline.find((e) => e.kind === 'replayed_as')?.text).toBe(
      `replayed as ${replay.commandId}`,
    );
  });

  it('shows an abandoned attempt and its takeover', () => {
    const envelope = anIngestionEnvelope({}, { issuedAt: at(0).toISOString() });
    const first = newRun(envelope, {
      attemptId: 'a1',
      lockExpiresAt: at(5).getTime(),
      now: at(1),
      expiresAt: 1,
    });
    const taken = takeOverRun(first, { attemptId: 'a2', lockExpiresAt: at(40).getTime(), now: at(9) });
    const trace = buildTrace(envelope.correlationId, [{ run: taken, signals: [] }]);
    expect(trace.timeline.map((e) => e.text)).toContain('attempt 1 ended: attempt_abandoned — lock expired');
  });
});

describe('logsInsightsQuery', () => {
  it('filters on the correlation id, escaping quotes', () => {
    expect(logsInsightsQuery('a"b')).toContain('| filter correlationId = "a\\"b"');
  });
});

describe('traceFrom', () => {
  const { old, replay } = history();
  const runs = new Map<string, RunRecord>([
    [old.runId, old],
    [replay.runId, replay],
  ]);
  const source = {
    getRun: async (id: string) => {
      const run = runs.get(id);
      return run ? { run, signals: run.signals } : undefined;
    },
    findRunsByCorrelationId: async (c: string) => [...runs.values()].filter((r) => r.correlationId === c),
    findRunIdByMessageId: async (m: string) =>
      m === '11111111-1111-4111-8111-111111111111' ? old.runId : undefined,
  };

  it('resolves a commandId, a correlation id and a message id to the same trace', async () => {
    expect((await traceFrom(source, replay.commandId))?.resolvedFrom).toBe('commandId');
    expect((await traceFrom(source, 'corr-1'))?.resolvedFrom).toBe('correlationId');
    const byMessage = await traceFrom(source, '11111111-1111-4111-8111-111111111111');
    expect(byMessage?.resolvedFrom).toBe('messageId');
    expect(byMessage?.trace.runs).toHaveLength(2);
  });

  it('finds nothing for an unknown id', async () => {
    expect(await traceFrom(source, '22222222-2222-4222-8222-222222222222')).toBeUndefined();
  });
});
