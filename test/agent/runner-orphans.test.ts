import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fixture, isAlive, runAgent } from './fixtures/runner-harness.js';

/**
 * Issue 18, process hygiene: what the command leaves in its process group after it exits is
 * stopped the way a stalled tree is (SIGTERM, SIGKILL after the grace), unless `keepOrphans`;
 * the run summary counts them (`orphansStopped`). The real bin, as an operator runs it.
 */

let dir: string;
const leftBehind: number[] = [];
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'runner-orphans-'));
});
afterEach(async () => {
  for (const pid of leftBehind.splice(0)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  await rm(dir, { recursive: true, force: true });
});

async function runWith(config: Record<string, unknown>) {
  const base = JSON.parse(await readFile(fixture('runner-config.json'), 'utf8')) as Record<string, unknown>;
  const configFile = join(dir, 'runner.json');
  await writeFile(configFile, JSON.stringify({ ...base, ...config }), { mode: 0o600 });
  const evidenceFile = join(dir, 'evidence', 'stall-events.jsonl');
  const run = await runAgent([
    'run',
    '--command-type',
    'build',
    '--environment',
    'dev',
    '--config',
    configFile,
    '--evidence-file',
    evidenceFile,
    '--',
    'sh',
    '-c',
    'sleep 300 & echo "started $!"',
  ]);
  const sleepPid = Number(/started (\d+)/.exec(run.stdout.toString())?.[1]);
  if (Number.isInteger(sleepPid) && sleepPid > 0) leftBehind.push(sleepPid);
  const summaries = (await readFile(join(dir, 'evidence', 'run-summaries.jsonl'), 'utf8'))
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
  return { run, sleepPid, summaries };
}

describe('runlane-agent run: processes left behind', () => {
  it("`sh -c 'sleep 300 & echo started'`: no sleep is alive after run returns, and the summary says 1", async () => {
    const { run, sleepPid, summaries } = await runWith({});
    expect(run.status).toBe(0);
    expect(sleepPid).toBeGreaterThan(0);
    expect(isAlive(sleepPid)).toBe(false);
    expect(summaries).toMatchObject([{ outcome: 'success', exitCode: 0, orphansStopped: 1 }]);
    expect(run.stderr).toContain('1 process(es) left in the process group');
  });

  it('keepOrphans: true leaves it running, and the summary says 0', async () => {
    const { run, sleepPid, summaries } = await runWith({ keepOrphans: true });
    expect(run.status).toBe(0);
    expect(isAlive(sleepPid)).toBe(true);
    expect(summaries).toMatchObject([{ outcome: 'success', orphansStopped: 0 }]);
  });
});
