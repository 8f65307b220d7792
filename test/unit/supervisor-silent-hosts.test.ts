import { describe, expect, it } from 'vitest';
import type { WorkerLogger } from '#core/lifecycle/lane-worker.js';
import { createSupervisorSilentHostsCheck, findSilentHosts } from '#core/supervisor/silent-hosts.js';
import { RecordingMetrics } from '../support/recording-metrics.js';
import { aHealthEvent, InMemorySupervisorEventStore } from '../support/supervisor-event-fixtures.js';

const NOW = new Date('2026-05-14T12:00:00.000Z');
const MINUTE = 60_000;
const ago = (ms: number) => new Date(NOW.getTime() - ms).toISOString();

describe('findSilentHosts', () => {
  it('is silent only strictly past the threshold: exactly staleMinutes old still counts as reporting', () => {
    const reports = [
      aHealthEvent({ host: 'at-threshold', ts: ago(15 * MINUTE) }),
      aHealthEvent({ host: 'one-ms-past', ts: ago(15 * MINUTE + 1) }),
      aHealthEvent({ host: 'fresh', ts: ago(30_000) }),
    ];

    const result = findSilentHosts(reports, { now: NOW, staleMinutes: 15 });

    expect(result.hosts.map((h) => [h.host, h.silent, h.ageMs])).toEqual([
      ['at-threshold', false, 15 * MINUTE],
      ['fresh', false, 30_000],
      ['one-ms-past', true, 15 * MINUTE + 1],
    ]);
    expect(result.counts).toEqual({ hosts: 3, reporting: 2, silent: 1, stopped: 0 });
    expect(result.silent.map((h) => h.host)).toEqual(['one-ms-past']);
    expect(result).toMatchObject({ now: NOW.toISOString(), staleMinutes: 15 });
  });

  it('does not count a host whose last report said stopping (a planned shutdown), however old; lists it as stopped', () => {
    const reports = [
      aHealthEvent({ host: 'decommissioned', ts: ago(3 * 24 * 60 * MINUTE), status: 'stopping' }),
      aHealthEvent({ host: 'stopping-now', ts: ago(MINUTE), status: 'stopping' }),
      aHealthEvent({ host: 'crashed', ts: ago(20 * MINUTE), status: 'ready' }),
      aHealthEvent({
        host: 'cut-off',
        ts: ago(40 * MINUTE),
        status: 'degraded',
        dashboardLink: 'disconnected',
      }),
    ];

    const result = findSilentHosts(reports, { now: NOW, staleMinutes: 15 });

    const byHost = Object.fromEntries(result.hosts.map((h) => [h.host, h]));
    expect(byHost.decommissioned).toMatchObject({ silent: false, stopped: true, status: 'stopping' });
    // Within the threshold it is simply reporting, whatever its status.
    expect(byHost['stopping-now']).toMatchObject({ silent: false, stopped: false });
    expect(result.counts).toEqual({ hosts: 4, reporting: 1, silent: 2, stopped: 1 });
    // Oldest report first, with what it last said.
    expect(result.silent.map((h) => [h.host, h.lastSeen, h.dashboardLink])).toEqual([
      ['cut-off', ago(40 * MINUTE), 'disconnected'],
      ['crashed', ago(20 * MINUTE), 'connected'],
    ]);
  });

  it('returns zero counts for an environment where no supervisor has reported', () => {
    expect(findSilentHosts([], { now: NOW, staleMinutes: 15 })).toEqual({
      now: NOW.toISOString(),
      staleMinutes: 15,
      hosts: [],
      silent: [],
      counts: { hosts: 0, reporting: 0, silent: 0, stopped: 0 },
    });
  });

  it('measures ts as an instant (offsets included) and keeps a report from the future reporting', () => {
    const result = findSilentHosts(
      [
        // 11:44:00Z written as 13:44:00+02:00: 16 minutes old.
        aHealthEvent({ host: 'offset', ts: '2026-05-14T13:44:00.000+02:00' }),
        aHealthEvent({ host: 'clock-ahead', ts: new Date(NOW.getTime() + 5 * MINUTE).toISOString() }),
      ],
      { now: NOW, staleMinutes: 15 },
    );
    expect(result.hosts.map((h) => [h.host, h.ageMs, h.silent])).toEqual([
      ['clock-ahead', -5 * MINUTE, false],
      ['offset', 16 * MINUTE, true],
    ]);
    expect(result.hosts[1]?.lastSeen).toBe('2026-05-14T13:44:00.000+02:00');
  });

  it('refuses a threshold that is not a whole number of minutes from 1 to 1440, and an invalid now', () => {
    for (const staleMinutes of [0, 1.5, -3, 1441, Number.NaN]) {
      expect(() => findSilentHosts([], { now: NOW, staleMinutes })).toThrow(
        /staleMinutes must be an integer from 1 to 1440/,
      );
    }
    expect(() => findSilentHosts([], { now: new Date('nope'), staleMinutes: 15 })).toThrow(/valid date/);
  });
});

describe('createSupervisorSilentHostsCheck', () => {
  function aLogger() {
    const lines: { level: string; message: string; extra: Record<string, unknown> }[] = [];
    const logger: WorkerLogger = {
      info: (message, extra = {}) => lines.push({ level: 'info', message, extra }),
      warn: (message, extra = {}) => lines.push({ level: 'warn', message, extra }),
      error: (message, extra = {}) => lines.push({ level: 'error', message, extra }),
    };
    return { logger, lines };
  }

  it('records the silent count and warns once per silent host with host and last_seen; other environments are not read', async () => {
    const store = new InMemorySupervisorEventStore();
    await store.putHealth(aHealthEvent({ environment: 'prod', host: 'sup-a', ts: ago(MINUTE) }));
    await store.putHealth(
      aHealthEvent({
        environment: 'prod',
        host: 'sup-b',
        ts: ago(22 * MINUTE),
        dashboardLink: 'disconnected',
      }),
    );
    await store.putHealth(aHealthEvent({ environment: 'staging', host: 'sup-c', ts: ago(90 * MINUTE) }));
    const metrics = new RecordingMetrics();
    const { logger, lines } = aLogger();
    const check = createSupervisorSilentHostsCheck({
      environment: 'prod',
      staleMinutes: 15,
      store,
      metrics,
      logger,
      clock: { now: () => NOW },
    });

    const result = await check();

    expect(result.counts).toEqual({ hosts: 2, reporting: 1, silent: 1, stopped: 0 });
    expect(metrics.points).toEqual([{ metric: 'supervisorSilentHosts', value: 1, dimensions: {} }]);
    expect(lines.filter((l) => l.level === 'warn')).toEqual([
      {
        level: 'warn',
        message: 'supervisor host silent',
        extra: {
          environment: 'prod',
          host: 'sup-b',
          last_seen: ago(22 * MINUTE),
          age_seconds: 22 * 60,
          status: 'ready',
          dashboard_link: 'disconnected',
          stale_minutes: 15,
        },
      },
    ]);
  });

  it('records 0 when no host is silent, so the alarm has data', async () => {
    const metrics = new RecordingMetrics();
    const check = createSupervisorSilentHostsCheck({
      environment: 'dev',
      staleMinutes: 15,
      store: new InMemorySupervisorEventStore(),
      metrics,
      logger: aLogger().logger,
      clock: { now: () => NOW },
    });
    await check();
    expect(metrics.points).toEqual([{ metric: 'supervisorSilentHosts', value: 0, dimensions: {} }]);
  });

  it('records nothing when the store cannot be read (the run fails), and refuses a bad threshold up front', async () => {
    const store = new InMemorySupervisorEventStore();
    store.listSupervisorHealth = async () => {
      throw new Error('ProvisionedThroughputExceededException');
    };
    const metrics = new RecordingMetrics();
    const options = { environment: 'dev', staleMinutes: 15, store, metrics, logger: aLogger().logger };
    await expect(createSupervisorSilentHostsCheck(options)()).rejects.toThrow(/ProvisionedThroughput/);
    expect(metrics.points).toEqual([]);
    expect(() => createSupervisorSilentHostsCheck({ ...options, staleMinutes: 0 })).toThrow(
      /createSupervisorSilentHostsCheck: staleMinutes must be an integer/,
    );
  });
});
