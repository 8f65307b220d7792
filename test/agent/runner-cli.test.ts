import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readEvidence } from '#common/runner-evidence.js';
import { STALL_ROOT_CAUSES } from '#contracts/agent-events.js';
import { eventCounts, fixture, freePort, isAlive, runAgent, stallCounts } from './fixtures/runner-harness.js';

/**
 * The real `runlane-agent` bin (tsx), as an operator runs it. The fixture config sets host
 * thresholds no host reaches (pressure > 100 %), so the real machine's load never decides.
 */

let dir: string;
let evidenceFile: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'runner-cli-'));
  evidenceFile = join(dir, 'stall-events.jsonl');
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const base = (environment = 'dev') => [
  'run',
  '--command-type',
  'build',
  '--environment',
  environment,
  '--config',
  fixture('runner-config.json'),
  '--evidence-file',
  evidenceFile,
  '--host',
  'ci-host-1',
];

describe('runlane-agent run (CLI)', () => {
  it('RUNNER_* env beats the config, flags beat the env; exit 124 names the idle timeout', async () => {
    // Config: idle 10000, hard 20000. Env: idle 8000, hard 5000. Flag: idle 300. The hard
    // deadline the env sets is far past the idle one, so the idle timeout fires first however
    // loaded the machine is; the event's hardMs shows the env's value won over the config's.
    const run = await runAgent(
      [...base(), '--idle-ms', '300', '--', process.execPath, fixture('runner-sleeper.mjs')],
      {
        env: { RUNNER_IDLE_MS: '8000', RUNNER_HARD_MS: '5000' },
      },
    );
    expect(run.status).toBe(124);
    const [event] = (await readEvidence(evidenceFile)).events;
    expect(event).toMatchObject({
      idleMs: 300,
      hardMs: 5000,
      timeout: 'idle',
      host: 'ci-host-1',
      commandType: 'build',
    });
    expect(run.stderr).toMatch(/runlane-agent: idle timeout after \d+ ms .*root cause child_hang/);
    expect(run.stdout.toString()).toBe('working on step 3 of 5\n');
  });

  it('exit 125 when the hard timeout fires; the env hard timeout beats the config', async () => {
    const run = await runAgent([...base(), '--', process.execPath, fixture('runner-chatty.mjs')], {
      env: { RUNNER_IDLE_MS: '300', RUNNER_HARD_MS: '600' },
    });
    expect(run.status).toBe(125);
    expect((await readEvidence(evidenceFile)).events).toMatchObject([
      { timeout: 'hard', idleMs: 300, hardMs: 600 },
    ]);
  });

  it('passes output through unchanged and exits with the command’s own code', async () => {
    const run = await runAgent([...base(), '--', process.execPath, fixture('runner-passthrough.mjs')]);
    expect(run.status).toBe(7);
    expect(run.stdout).toEqual(
      Buffer.concat([
        Buffer.from('plain line\r\n'),
        Buffer.from([0xe2, 0x82, 0xac, 0x0a]),
        Buffer.from('x'.repeat(70_000)),
      ]),
    );
    expect(run.stderrBytes).toEqual(
      Buffer.concat([Buffer.from([0xff, 0xfe, 0x00, 0x0a]), Buffer.from('no newline at end')]),
    );
  });

  it('/metrics (scraped while the agent lingers) agrees with the evidence file', async () => {
    const port = await freePort();
    let scraped: Promise<string> | undefined;
    const run = await runAgent(
      [
        ...base(),
        '--idle-ms',
        '300',
        '--metrics-port',
        String(port),
        '--metrics-linger-ms',
        '1500',
        '--',
        process.execPath,
        fixture('runner-enospc.mjs'),
      ],
      {
        onStderr: (text) => {
          if (scraped === undefined && text.includes(`metrics at http://127.0.0.1:${port}/metrics`)) {
            scraped = fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.text());
          }
        },
      },
    );
    expect(run.status).toBe(124);
    const metricsText = await scraped;
    if (metricsText === undefined) throw new Error(`never scraped; stderr: ${run.stderr}`);
    const { events } = await readEvidence(evidenceFile);
    expect(events).toMatchObject([{ rootCause: 'io_wait' }]);
    expect(stallCounts(metricsText)).toEqual(eventCounts(events, STALL_ROOT_CAUSES));
    expect(metricsText).toContain(
      'runlane_runner_stalls_total{environment="dev",host="ci-host-1",command_type="build",root_cause="io_wait"} 1',
    );
    expect(metricsText).toMatch(/runlane_runner_runs_total\{[^}]*outcome="idle_timeout"\} 1/);
    expect(isAlive(events[0]?.pid ?? 0)).toBe(false);
  });

  it('SIGTERM to the agent stops the whole tree and exits 143 (no stall event)', async () => {
    let signalled = false;
    const run = await runAgent([...base(), '--', process.execPath, fixture('runner-tree.mjs')], {
      onStdout: (text, agent) => {
        if (!signalled && text.includes('escaped')) {
          signalled = true;
          agent.kill('SIGTERM');
        }
      },
    });
    expect(run.status).toBe(143);
    const pids = JSON.parse(run.stdout.toString()) as { inGroup: number; escaped: number };
    const root = Number(/process tree of pid (\d+)/.exec(run.stderr)?.[1]);
    expect(run.stderr).toContain('stopped by SIGTERM');
    for (const pid of [root, pids.inGroup, pids.escaped]) expect(isAlive(pid)).toBe(false);
    expect((await readEvidence(evidenceFile)).events).toEqual([]);
  });

  it('config errors name the field path and exit 2 without running anything', async () => {
    const marker = join(dir, 'ran');
    const run = await runAgent([
      ...base('prod').map((arg) =>
        arg === fixture('runner-config.json') ? fixture('runner-config-bad.json') : arg,
      ),
      '--',
      process.execPath,
      '-e',
      `require('node:fs').writeFileSync(${JSON.stringify(marker)}, '')`,
    ]);
    expect(run.status).toBe(2);
    expect(run.stderr).toContain('environments.prod.idleMs');
    expect(run.stderr).toContain('rootCause.loadPerCoreThreshold');
    await expect(readFile(marker)).rejects.toThrow();
  });

  it('a malformed RUNNER_IDLE_MS is named; usage errors and a missing command have their own exit codes', async () => {
    const badEnv = await runAgent([...base(), '--', 'true'], { env: { RUNNER_IDLE_MS: '12s' } });
    expect(badEnv.status).toBe(2);
    expect(badEnv.stderr).toContain("value '12s' from env 'RUNNER_IDLE_MS' is invalid");
    const noCommand = await runAgent(['run', '--command-type', 'build', '--environment', 'dev']);
    expect(noCommand.status).toBe(2);
    expect(noCommand.stderr).toContain("missing required argument 'command'");
    const notFound = await runAgent([...base(), '--', join(dir, 'no-such-binary')]);
    expect(notFound.status).toBe(127);
  });
});
