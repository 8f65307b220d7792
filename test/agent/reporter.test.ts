import { randomUUID } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AgentReporter } from '#agent/reporter/agent-reporter.js';
import { SPOOL_PAYLOAD_TYPES } from '#agent/reporter/bus-events.js';
import { EventBridgeSender } from '#agent/reporter/event-bridge-sender.js';
import { createAgentEventBridgeClient, type LazyEventBridgeClient } from '#agent/reporter/setup.js';
import { runnerConfigSchema } from '#agent/runner/config.js';
import { RUNNER_METRICS, RunnerMetrics } from '#agent/runner/metrics.js';
import { nodeSpoolFileSystem, OfflineSpool, type SpoolFileSystem } from '#agent/spool/index.js';
import {
  AGENT_DETAIL_TYPES,
  AGENT_EVENT_SOURCE,
  type AgentBusEvent,
  type RunnerRunSummaryEvent,
  type RunnerStallEvent,
} from '#contracts/agent-events.js';
import { type FakeEventBus, startFakeEventBus } from './fixtures/fake-event-bus.js';
import { ManualClock, tempSpoolDirectory } from './spool-helpers.js';

/**
 * The reporter against a real PutEvents endpoint on 127.0.0.1 (the SDK client signs and
 * sends over HTTP), with the real spool on disk. Only the ENOSPC case injects a file-system
 * fault, which a test cannot otherwise produce without a full disk (the CLI test does that
 * with a full tmpfs where the machine allows mounting one).
 */

let bus: FakeEventBus;
let directory: string;
let remove: () => Promise<void>;
let clock: ManualClock;
const clients: LazyEventBridgeClient[] = [];

beforeEach(async () => {
  bus = await startFakeEventBus();
  ({ directory, remove } = await tempSpoolDirectory());
  clock = new ManualClock();
});
afterEach(async () => {
  for (const client of clients.splice(0)) client.destroy();
  await bus.stop();
  await remove();
});

function sender(options: { requestTimeoutMs?: number; maxAttempts?: number } = {}): EventBridgeSender {
  // The agent's own client factory (timeouts, attempts), pointed at the fake bus.
  const client = createAgentEventBridgeClient(
    {
      ...runnerConfigSchema.parse({ defaults: { idleMs: 1, hardMs: 1, killGraceMs: 0 }, environments: {} })
        .reporting,
      region: 'us-east-1',
      maxAttempts: options.maxAttempts ?? 1,
      requestTimeoutMs: options.requestTimeoutMs ?? 2_000,
    },
    { endpoint: bus.endpoint, credentials: { accessKeyId: 'AKIDFAKEAGENT', secretAccessKey: 'fake-secret' } },
  );
  clients.push(client);
  return new EventBridgeSender({ client, busName: 'runlane-test-telemetry' });
}

let sequence = 0;
function stall(overrides: Partial<RunnerStallEvent> = {}): AgentBusEvent {
  sequence++;
  return {
    detailType: AGENT_DETAIL_TYPES.stall,
    detail: {
      id: randomUUID(),
      ts: new Date(Date.UTC(2026, 10, 25, 6, 0, sequence)).toISOString(),
      host: 'ci-host-1',
      environment: 'test',
      commandType: 'build',
      rootCause: 'network',
      idleMs: 300,
      hardMs: 1_000,
      elapsedMs: 310,
      timeout: 'idle',
      pid: 4242,
      evidence: ['Error: connect ETIMEDOUT 10.0.0.1:443'],
      ...overrides,
    },
  };
}
function summary(overrides: Partial<RunnerRunSummaryEvent> = {}): AgentBusEvent {
  sequence++;
  return {
    detailType: AGENT_DETAIL_TYPES.runSummary,
    detail: {
      id: randomUUID(),
      ts: new Date(Date.UTC(2026, 10, 25, 6, 0, sequence)).toISOString(),
      host: 'ci-host-1',
      environment: 'test',
      commandType: 'build',
      outcome: 'success',
      exitCode: 0,
      durationMs: 1_234,
      ...overrides,
    },
  };
}
const ids = (events: readonly AgentBusEvent[]) => events.map((event) => event.detail.id);

function reporterWith(
  options: { spool?: OfflineSpool; sender?: EventBridgeSender; metrics?: RunnerMetrics } = {},
): { reporter: AgentReporter; spool: OfflineSpool; log: string[] } {
  const log: string[] = [];
  const spool = options.spool ?? new OfflineSpool({ directory, maxBytes: 1_000_000, clock });
  const reporter = new AgentReporter({
    sender: options.sender ?? sender(),
    spool,
    replayIntervalMs: 60_000,
    log: (line) => log.push(line),
    record: options.metrics ? (result, count) => options.metrics?.recordReport(result, count) : undefined,
  });
  return { reporter, spool, log };
}

describe('EventBridgeSender', () => {
  it('signs with SigV4 and sends 25 events as PutEvents batches of at most 10, all acknowledged', async () => {
    const events = Array.from({ length: 25 }, (_, i) => (i % 2 === 0 ? stall() : summary()));

    const result = await sender().send(events);

    expect(result).toEqual({ deliveredIds: ids(events), undelivered: [] });
    expect(bus.requests.map((request) => request.entries)).toEqual([10, 10, 5]);
    for (const request of bus.requests) {
      expect(request.target).toBe('AWSEvents.PutEvents');
      expect(request.authorization).toMatch(
        /^AWS4-HMAC-SHA256 Credential=AKIDFAKEAGENT\/\d{8}\/us-east-1\/events\/aws4_request, SignedHeaders=.*, Signature=[0-9a-f]{64}$/,
      );
    }
    expect(bus.accepted.map((entry) => entry.id)).toEqual(ids(events));
    expect(bus.accepted[0]).toMatchObject({
      source: AGENT_EVENT_SOURCE,
      detailType: 'RunnerStall',
      eventBusName: 'runlane-test-telemetry',
      detail: events[0]?.detail,
    });
  });

  it('a 200 with FailedEntryCount > 0 acknowledges only the entries that got an event id', async () => {
    const events = [stall(), summary(), stall(), summary()];
    bus.script({ partial: [1, 2] });

    const result = await sender().send(events);

    expect(result.deliveredIds).toEqual([events[0]?.detail.id, events[3]?.detail.id]);
    expect(result.undelivered).toEqual([
      { id: events[1]?.detail.id, reason: 'InternalFailure: fake partial failure' },
      { id: events[2]?.detail.id, reason: 'InternalFailure: fake partial failure' },
    ]);
  });

  it.each([
    ['a 500', 'fail500', /HTTP 500/],
    ['a dropped connection', 'drop', /socket hang up|ECONNRESET/],
    ['a request that never gets an answer (timeout)', 'hang', /timeout|timed out|ETIMEDOUT|abort/i],
  ] as const)(
    '%s leaves every entry undelivered, with the reason, and does not throw',
    async (_name, behaviour, reason) => {
      bus.behave(behaviour);
      const events = [stall(), summary()];

      const result = await sender({ requestTimeoutMs: 300 }).send(events);

      expect(result.deliveredIds).toEqual([]);
      expect(result.undelivered.map((entry) => entry.id)).toEqual(ids(events));
      expect(result.undelivered[0]?.reason).toMatch(reason);
    },
  );

  it('retries a failed request within maxAttempts (the SDK retry), then delivers', async () => {
    bus.script('fail500');
    const events = [stall()];

    const result = await sender({ maxAttempts: 2 }).send(events);

    expect(result.deliveredIds).toEqual(ids(events));
    expect(bus.requests.map((request) => request.behaviour)).toEqual(['fail500', 'accept']);
  });
});

describe('AgentReporter', () => {
  it('spools what the bus refused as <payload_type>-<timestamp>-<id>.json and delivers it newest first once the bus accepts', async () => {
    const { reporter, spool } = reporterWith();
    bus.behave('fail500');
    const first = [stall(), summary()];
    const second = [summary()];
    expect(await reporter.report(first)).toEqual({ delivered: 0, spooled: 2, lost: 0 });
    clock.advance(1_000);
    expect(await reporter.report(second)).toEqual({ delivered: 0, spooled: 1, lost: 0 });

    const files = (await readdir(directory)).filter((name) => name.endsWith('.json')).sort();
    expect(files).toEqual(
      [
        `${SPOOL_PAYLOAD_TYPES.RunnerStall}-1700000000000-${first[0]?.detail.id}.json`,
        `run_summary-1700000000001-${first[1]?.detail.id}.json`,
        `run_summary-1700000001000-${second[0]?.detail.id}.json`,
      ].sort(),
    );

    bus.behave('accept');
    const flushed = await reporter.flush();

    expect(flushed).toEqual({ delivered: 3, remaining: 0, quarantined: 0 });
    expect(bus.accepted.map((entry) => entry.id)).toEqual([
      second[0]?.detail.id,
      first[1]?.detail.id,
      first[0]?.detail.id,
    ]);
    expect(bus.accepted.map((entry) => entry.detail)).toEqual([
      second[0]?.detail,
      first[1]?.detail,
      first[0]?.detail,
    ]);
    expect(spool.stats()).toMatchObject({ files: 0, delivered: 3 });
  });

  it('after a partial acknowledgement spools only the entries without an event id', async () => {
    const { reporter, spool } = reporterWith();
    const events = [stall(), summary(), summary()];
    bus.script({ partial: [0, 2] });

    expect(await reporter.report(events)).toEqual({ delivered: 1, spooled: 2, lost: 0 });

    expect((await spool.pending()).map((entry) => entry.id).sort()).toEqual(
      [events[0]?.detail.id, events[2]?.detail.id].sort(),
    );
    await reporter.flush();
    expect(bus.accepted.map((entry) => entry.id).sort()).toEqual(ids(events).sort());
    expect(bus.duplicatesDropped).toBe(0);
  });

  it('flush stops at a bus that still refuses and keeps every event', async () => {
    const { reporter, spool } = reporterWith();
    bus.behave('drop');
    await reporter.report([stall(), summary(), stall()]);

    expect(await reporter.flush()).toEqual({ delivered: 0, remaining: 3, quarantined: 0 });
    expect(spool.stats().files).toBe(3);
  });

  it('a crash between the acknowledgement and the delete resends once; the receiver drops the duplicate', async () => {
    bus.behave('fail500');
    const events = [stall(), summary(), summary()];
    await reporterWith().reporter.report(events);

    // The delete after the acknowledgement fails, as if the agent died right there.
    const crashingFs: SpoolFileSystem = {
      ...nodeSpoolFileSystem,
      unlink: async () => {
        throw Object.assign(new Error('simulated crash before delete'), { code: 'EIO' });
      },
    };
    bus.behave('accept');
    const crashed = reporterWith({
      spool: new OfflineSpool({ directory, maxBytes: 1_000_000, clock, fs: crashingFs }),
    });
    await crashed.reporter.flush();
    expect(bus.accepted).toHaveLength(3);

    // The next agent process re-opens the spool and replays.
    const next = reporterWith({ spool: new OfflineSpool({ directory, maxBytes: 1_000_000, clock }) });
    expect(await next.reporter.flush()).toMatchObject({ delivered: 3, remaining: 0 });

    expect(bus.duplicatesDropped).toBe(3); // each event resent exactly once
    expect(bus.accepted.map((entry) => entry.id).sort()).toEqual(ids(events).sort());
    expect(await next.reporter.flush()).toEqual({ delivered: 0, remaining: 0, quarantined: 0 });
    expect(bus.duplicatesDropped).toBe(3);
  });

  it('ENOSPC on the spool disk (injected fs fault) is reported as lost, not thrown', async () => {
    const fullDisk: SpoolFileSystem = {
      ...nodeSpoolFileSystem,
      open: async (path, flags) => {
        if (String(flags).includes('w')) {
          throw Object.assign(new Error('ENOSPC: no space left on device, open'), { code: 'ENOSPC' });
        }
        return nodeSpoolFileSystem.open(path, flags);
      },
    };
    const metrics = new RunnerMetrics({ environment: 'test', host: 'ci-host-1', commandType: 'build' });
    const { reporter, log } = reporterWith({
      spool: new OfflineSpool({ directory, maxBytes: 1_000_000, clock, fs: fullDisk }),
      metrics,
    });
    bus.behave('fail500');

    expect(await reporter.report([stall(), summary()])).toEqual({ delivered: 0, spooled: 0, lost: 2 });

    expect(log.join('\n')).toMatch(/not spooled \(SpoolDiskFullError/);
    expect(await metrics.text()).toContain(
      `${RUNNER_METRICS.reportedEvents}{environment="test",host="ci-host-1",result="lost"} 2`,
    );
  });

  it('keeps the spool under its bound by evicting the oldest, and shows evictions in /metrics', async () => {
    const metrics = new RunnerMetrics({ environment: 'test', host: 'ci-host-1', commandType: 'build' });
    const probe = new OfflineSpool({ directory: `${directory}-probe`, maxBytes: 1_000_000, clock });
    const one = await probe.write({ payloadType: 'run_summary', id: randomUUID(), body: summary() });
    const maxBytes = one.bytes * 3 + 10; // room for three summaries
    const spool = new OfflineSpool({ directory, maxBytes, clock });
    metrics.watchSpool(spool);
    const { reporter } = reporterWith({ spool, metrics });
    bus.behave('fail500');
    const events = Array.from({ length: 8 }, () => summary());

    for (const event of events) {
      await reporter.report([event]);
      clock.advance(10);
    }

    expect(spool.stats()).toMatchObject({ files: 3, evicted: 5 });
    expect(spool.stats().bytes).toBeLessThanOrEqual(maxBytes);
    expect((await spool.pending()).map((entry) => entry.id)).toEqual(ids(events.slice(5)).reverse());
    const text = await metrics.text();
    expect(text).toContain(`${RUNNER_METRICS.spoolEvictions} 5`);
    expect(text).toContain(`${RUNNER_METRICS.spoolFiles} 3`);
    expect(text).toContain(
      `${RUNNER_METRICS.reportedEvents}{environment="test",host="ci-host-1",result="spooled"} 8`,
    );
  });

  it('the background loop delivers earlier spooled events, and wakes when a report gets through', async () => {
    const { reporter, spool } = reporterWith();
    bus.behave('fail500');
    const old = [summary(), summary()];
    await reporter.report(old);
    bus.behave('accept');

    reporter.start(); // first round at once
    await reporter.report([stall()]);
    await expect.poll(() => spool.stats().files, { timeout: 5_000 }).toBe(0);
    await reporter.close();

    expect(bus.accepted.map((entry) => entry.id).sort()).toEqual([...ids(old), bus.accepted[0]?.id].sort());
    expect(bus.duplicatesDropped).toBe(0);
  });

  it('dashboardLink is connected only while the bus acknowledged something within the window', async () => {
    const { reporter } = reporterWith();
    expect(reporter.dashboardLink(10_000)).toBe('disconnected'); // nothing delivered yet

    bus.behave('fail500');
    await reporter.report([summary()]);
    expect(reporter.dashboardLink(10_000)).toBe('disconnected');

    bus.behave('accept');
    await reporter.report([summary()]);
    const deliveredAt = reporter.lastDeliveredAt ?? 0;
    expect(reporter.dashboardLink(10_000, deliveredAt + 10_000)).toBe('connected');
    expect(reporter.dashboardLink(10_000, deliveredAt + 10_001)).toBe('disconnected');

    bus.behave('drop');
    await reporter.report([summary()]);
    expect(reporter.lastDeliveredAt).toBe(deliveredAt); // a refusal does not count as contact
  });
});
