import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoDbSupervisorEventStore } from '#adapters/dynamodb/supervisor-event-store.js';
import type { SupervisorHealthEvent } from '#contracts/agent-events.js';
import type { LocalStack } from '#local/stack/start-local-stack.js';
import { runRunlaneBin } from '../support/local-cli.js';
import { aHealthEvent } from '../support/supervisor-event-fixtures.js';
import { localStackTable, startTestLocalStack } from '../support/test-local-stack.js';

/**
 * `runlane supervisors health` as an operator runs it: the real `bin/runlane.mjs`
 * in a child process, reading the local stack's DynamoDB Local table (found
 * through the stack's /_local/info, as `--local` does), where the hosts' latest
 * health reports are kept. And the local stack's stand-in for the deployed
 * schedule, `checkSilentHostsNow`, over the same table.
 */

const MINUTE = 60_000;

const runlane = (args: readonly string[]) => runRunlaneBin(args);

interface HealthJson {
  environment: string;
  tableName: string;
  staleMinutes: number;
  counts: { hosts: number; reporting: number; silent: number; stopped: number };
  hosts: {
    host: string;
    status: string;
    dashboard_link: string;
    children: { running: number; failed: number; quarantined: number; target_count: number };
    last_seen: string;
    age_seconds: number;
    silent: boolean;
    stopped: boolean;
  }[];
}

describe('runlane supervisors health (real process) on the local stack', () => {
  let stack: LocalStack;
  let cutOff: SupervisorHealthEvent;
  const health = (...args: string[]) =>
    runlane(['supervisors', 'health', ...args, '--api-url', stack.info.apiUrl]);

  beforeAll(async () => {
    stack = await startTestLocalStack();
    const store = new DynamoDbSupervisorEventStore(localStackTable(stack));
    const now = Date.now();
    const at = (msAgo: number) => new Date(now - msAgo).toISOString();
    cutOff = aHealthEvent({
      environment: 'staging',
      host: 'sup-cut-off',
      ts: at(40 * MINUTE),
      status: 'degraded',
      dashboardLink: 'disconnected',
      children: { running: 2, failed: 1, quarantined: 1, targetCount: 4 },
    });
    for (const report of [
      cutOff,
      aHealthEvent({ environment: 'staging', host: 'sup-ok', ts: at(MINUTE) }),
      aHealthEvent({
        environment: 'staging',
        host: 'sup-retired',
        ts: at(3 * 60 * MINUTE),
        status: 'stopping',
      }),
      aHealthEvent({ environment: 'dev', host: 'sup-dev', ts: at(2 * MINUTE) }),
    ]) {
      expect(await store.putHealth(report)).toBe('stored');
    }
  }, 90_000);
  afterAll(async () => {
    await stack?.stop();
  });

  it('lists every host with status, dashboard_link, children, last seen and age; marks SILENT and stopped; exits 1', async () => {
    const { status, stdout, stderr } = await health('--env', 'staging', '--local');

    expect(stderr).toBe('');
    expect(status).toBe(1);
    const [summary, header, ...rows] = stdout.trimEnd().split('\n');
    expect(summary).toContain(
      `Supervisors of staging (local stack ${stack.info.apiUrl}, table ${stack.info.tableName})`,
    );
    expect(summary).toContain(
      '3 hosts, 1 silent (no report for more than 15 min), 1 stopped (planned shutdown, not counted)',
    );
    expect(header?.split(/\s{2,}/)).toEqual([
      'HOST',
      'STATUS',
      'DASHBOARD_LINK',
      'RUNNING',
      'FAILED',
      'QUARANTINED',
      'TARGET',
      'LAST SEEN',
      'AGE',
    ]);
    expect(rows).toHaveLength(3);
    const [cut, ok, retired] = rows.map((row) => row.split(/\s+/));
    expect(cut).toEqual([
      'sup-cut-off',
      'degraded',
      'disconnected',
      '2',
      '1',
      '1',
      '4',
      cutOff.ts,
      '40m',
      expect.stringMatching(/^\d+s$/),
      'SILENT',
    ]);
    expect(ok?.slice(0, 3)).toEqual(['sup-ok', 'ready', 'connected']);
    expect(ok?.at(-1)).not.toMatch(/SILENT|stopped/);
    expect(retired?.slice(0, 2)).toEqual(['sup-retired', 'stopping']);
    expect(retired?.slice(-3)).toEqual(['3h', '0m', 'stopped']);
  });

  it('prints JSON with seed 001’s field names; --stale-minutes moves the line, and no silent host exits 0', async () => {
    const json = await health('--env', 'staging', '--local', '--json');
    expect(json.status).toBe(1);
    const parsed = JSON.parse(json.stdout) as HealthJson;
    expect(parsed).toMatchObject({
      environment: 'staging',
      tableName: stack.info.tableName,
      staleMinutes: 15,
      counts: { hosts: 3, reporting: 1, silent: 1, stopped: 1 },
    });
    expect(parsed.hosts.find((h) => h.host === 'sup-cut-off')).toEqual({
      host: 'sup-cut-off',
      status: 'degraded',
      dashboard_link: 'disconnected',
      children: { running: 2, failed: 1, quarantined: 1, target_count: 4 },
      last_seen: cutOff.ts,
      age_seconds: expect.any(Number),
      silent: true,
      stopped: false,
    });

    const patient = await health('--env', 'staging', '--local', '--stale-minutes', '60', '--json');
    expect(patient.status).toBe(0);
    expect((JSON.parse(patient.stdout) as HealthJson).counts).toEqual({
      hosts: 3,
      reporting: 2,
      silent: 0,
      stopped: 1,
    });

    const dev = await health('--env', 'dev', '--local');
    expect(dev.status).toBe(0);
    expect(dev.stdout).toContain('1 host, 0 silent');

    const nobody = await health('--env', 'qa-lab', '--local');
    expect(nobody).toMatchObject({ status: 0 });
    expect(nobody.stdout).toContain('No supervisor has reported to qa-lab');
  });

  it('documents itself in --help (exit 1 when a host is silent) and exits 2 on bad usage', async () => {
    const help = await runlane(['supervisors', 'health', '--help']);
    expect(help.status).toBe(0);
    expect(help.stdout).toContain(
      'runlane supervisors health --env <env> [--local] [--stale-minutes <n>] [--json]',
    );
    expect(help.stdout).toContain('1 at least one host is silent');

    for (const args of [
      ['--env', 'qa'],
      ['--local'],
      ['--env', 'dev', '--stale-minutes', '0'],
      ['--env', 'dev', '--bogus'],
    ]) {
      const bad = await health(...args);
      expect(bad.status, args.join(' ')).toBe(2);
      expect(bad.stderr).toMatch(/^runlane supervisors: /);
    }
    expect((await health('--env', 'qa')).stderr).toContain(
      '--env must be one of dev, staging, prod (or add --local)',
    );
    expect((await runlane(['supervisors'])).status).toBe(2);
    expect((await runlane(['--help'])).stdout).toContain('runlane supervisors health');
  });

  it('runs the scheduled check locally for dev, staging and prod, with the dev config’s threshold', async () => {
    const results = await stack.checkSilentHostsNow();
    expect(results.map((r) => [r.hosts[0]?.environment ?? null, r.staleMinutes, r.counts])).toEqual([
      ['dev', 15, { hosts: 1, reporting: 1, silent: 0, stopped: 0 }],
      ['staging', 15, { hosts: 3, reporting: 1, silent: 1, stopped: 1 }],
      [null, 15, { hosts: 0, reporting: 0, silent: 0, stopped: 0 }],
    ]);
    expect(results[1]?.silent.map((h) => h.host)).toEqual(['sup-cut-off']);
  });
});
