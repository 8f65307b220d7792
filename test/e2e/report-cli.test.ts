import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RUNNER_EVIDENCE_FILES } from '#contracts/agent-events.js';
import { runAgent } from '../agent/fixtures/runner-harness.js';
import { runRunlaneBin } from '../support/local-cli.js';
import { ago, aRun, aStall, HOUR, jsonLines, MINUTE } from '../support/runner-events.js';

/**
 * `runlane report daily` and `runlane stalls` as an operator runs them on a host: the real
 * `bin/runlane.mjs` in a child process whose working directory holds the agent's
 * `evidence/runner/` files, so the default paths are the ones exercised.
 */

/** `runlane <args>` run from `cwd`, a host's working directory. */
const runlane = (cwd: string, args: readonly string[]) => runRunlaneBin(args, { cwd });

describe('runlane report daily / runlane stalls (real process, default evidence paths)', () => {
  let host: string;
  let empty: string;

  beforeAll(async () => {
    host = await mkdtemp(join(tmpdir(), 'report-e2e-'));
    empty = await mkdtemp(join(tmpdir(), 'report-e2e-empty-'));
    await mkdir(join(host, 'evidence/runner'), { recursive: true });
    // No --now here: the events are placed relative to the real clock.
    const now = new Date();
    const stalls = [
      aStall({ ts: ago(2 * HOUR, now), rootCause: 'io_wait', evidence: ['ENOSPC: no space left on device'] }),
      aStall({ ts: ago(90 * MINUTE, now), host: '<script>alert(1)</script>', timeout: 'hard' }),
      aStall({ ts: ago(30 * MINUTE, now), rootCause: 'io_wait' }),
    ];
    await writeFile(
      join(host, RUNNER_EVIDENCE_FILES.stalls),
      `${jsonLines(stalls.slice(0, 2))}not json\n${jsonLines(stalls.slice(2))}{"id":"cut short`,
    );
    const runs = Array.from({ length: 30 }, (_, i) =>
      aRun({ ts: ago((i + 1) * 2 * MINUTE, now), durationMs: 1_000 + i * 100 }),
    );
    await writeFile(join(host, RUNNER_EVIDENCE_FILES.runSummaries), jsonLines(runs));
  });

  afterAll(async () => {
    await rm(host, { recursive: true, force: true });
    await rm(empty, { recursive: true, force: true });
  });

  it('report daily reads both default files, prints the table, writes the HTML next to them, exits 0', async () => {
    const before = new Date().toISOString().slice(0, 10);
    const { status, stdout, stderr } = await runlane(host, ['report', 'daily']);
    const after = new Date().toISOString().slice(0, 10);

    expect(stderr).toBe('');
    expect(status).toBe(0);
    expect(stdout).toContain('3 stalls, 30 runs (0 not success), 2 unreadable lines skipped');
    expect(stdout).toMatch(/Auto-skip events \(24 h\)\s+1\s+< 3\s+pass/);
    // The file is named after the UTC date of now (two candidates if the run straddled midnight).
    const names = [before, after].map((day) => `daily-report-${day}.html`);
    const written = stdout.match(/HTML report: (.*)\n$/)?.[1] ?? '';
    expect(written.startsWith(join(host, 'evidence/runner/'))).toBe(true);
    expect(names).toContain(written.slice(join(host, 'evidence/runner/').length));
    expect(await readdir(join(host, 'evidence/runner'))).toContain(written.split('/').at(-1));
  });

  it('stalls tail and stalls by read the default file; a bad field exits 2', async () => {
    const tail = await runlane(host, ['stalls', 'tail', '-n', '2', '--json']);
    const by = await runlane(host, ['stalls', 'by', 'rootCause']);
    const bad = await runlane(host, ['stalls', 'by', 'timeout']);

    expect(tail.status).toBe(0);
    expect(JSON.parse(tail.stdout)).toMatchObject({
      skipped: 2,
      events: [{ timeout: 'hard' }, { rootCause: 'io_wait' }],
    });
    expect(by.status).toBe(0);
    expect(by.stdout).toMatch(/io_wait\s+2\s+66\.7 %\n\s+network\s+1\s+33\.3 %/);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('Allowed choices are rootCause, environment, host, commandType');
  });

  it('without evidence: a clear message and exit 1, no stack trace', async () => {
    const report = await runlane(empty, ['report', 'daily']);
    const tail = await runlane(empty, ['stalls', 'tail']);

    expect(report.status).toBe(1);
    expect(report.stderr).toMatch(
      /^runlane: no runner evidence: neither evidence\/runner\/stall-events\.jsonl nor/,
    );
    expect(tail.status).toBe(1);
    expect(tail.stderr).toMatch(/^runlane: no stall evidence at evidence\/runner\/stall-events\.jsonl/);
    for (const run of [report, tail]) expect(run.stderr).not.toMatch(/\n\s+at /);
    expect(await readdir(empty)).toEqual([]);
  });

  it('renders from the evidence a real runlane-agent wrote on this host (default paths)', async () => {
    const agentHost = await mkdtemp(join(tmpdir(), 'report-agent-host-'));
    try {
      const run = (idleMs: string, ...command: string[]) =>
        runAgent(
          [
            'run',
            '--command-type',
            'build',
            '--environment',
            'prod',
            '--no-report',
            '--metrics-port',
            '0',
            '--host',
            'build-7',
            '--idle-ms',
            idleMs,
            '--',
            process.execPath,
            ...command,
          ],
          { cwd: agentHost },
        );
      expect((await run('300', '-e', 'console.log("fetching"); setInterval(() => {}, 1 << 30)')).status).toBe(
        124,
      );
      expect((await run('5000', '-e', 'console.log("ok")')).status).toBe(0);

      const { status, stdout } = await runlane(agentHost, ['report', 'daily', '--json']);

      // One stall in 5 min is 0.0033/s (pass); the stalled run alone makes a 100 % failure window (fail → exit 1).
      expect(status).toBe(1);
      const report = JSON.parse(stdout) as {
        criteria: Record<string, { status: string }>;
        totals: { stalls: number; runs: number; failedRuns: number };
        breakdowns: { host: { value: string; count: number }[] };
        html: string;
      };
      expect(report.totals).toMatchObject({ stalls: 1, runs: 2, failedRuns: 1 });
      expect(report.criteria.stallRate?.status).toBe('pass');
      expect(report.criteria.failureRate?.status).toBe('fail');
      expect(report.breakdowns.host).toMatchObject([{ value: 'build-7', count: 1 }]);
      expect(report.html.startsWith(join(agentHost, 'evidence/runner/daily-report-'))).toBe(true);
    } finally {
      await rm(agentHost, { recursive: true, force: true });
    }
  }, 60_000);
});
