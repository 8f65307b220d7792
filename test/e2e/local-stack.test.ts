import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { runDemo } from '#local/demo/demo.js';
import { connectLocalApi } from '#local/demo/local-api.js';

/**
 * The local stack as a user runs it: `runlane local` (what `npm start` runs) in
 * a child process, driven over HTTP. Ports are 0 (free ones); the ready line
 * printed with --json says where everything listens.
 */
const projectRoot = fileURLToPath(new URL('../../', import.meta.url));
const children: ChildProcess[] = [];

interface Started {
  readonly child: ChildProcess;
  readonly apiUrl: string;
  readonly exited: Promise<number | null>;
  /** Everything the stack printed on stdout so far. */
  readonly stdout: () => string;
}

async function startStack(extraArgs: string[]): Promise<Started> {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      'cli/main.ts',
      'local',
      '--json',
      '--port',
      '0',
      '--dynamo-port',
      '0',
      '--sqs-port',
      '0',
      '--events-port',
      '0',
      '--visibility-timeout',
      '2',
      ...extraArgs,
    ],
    {
      cwd: projectRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, POWERTOOLS_LOG_LEVEL: 'WARN' },
    },
  );
  children.push(child);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let stderr = '';
  let stdout = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  child.stdout?.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  const apiUrl = await new Promise<string>((resolve, reject) => {
    let buffer = '';
    const timer = setTimeout(() => reject(new Error(`local stack not ready in 90 s:\n${stderr}`)), 90_000);
    child.stdout?.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      for (const line of buffer.split('\n')) {
        if (!line.includes('"ready":true')) continue;
        clearTimeout(timer);
        resolve(JSON.parse(line).apiUrl as string);
      }
      buffer = buffer.slice(buffer.lastIndexOf('\n') + 1);
    });
    child.once('exit', (code) => reject(new Error(`local stack exited with ${code}:\n${stderr}`)));
  });
  return { child, apiUrl, exited, stdout: () => stdout };
}

/** Every process below `pid`, recursively. */
function descendants(pid: number): number[] {
  let direct: number[] = [];
  try {
    direct = execFileSync('ps', ['-o', 'pid=', '--ppid', String(pid)], { encoding: 'utf8' })
      .split('\n')
      .map((s) => Number(s.trim()))
      .filter((n) => n > 0);
  } catch {
    return [];
  }
  return direct.flatMap((child) => [child, ...descendants(child)]);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function stopStack(stack: Started): Promise<number | null> {
  stack.child.kill('SIGTERM');
  return Promise.race([
    stack.exited,
    new Promise<null>((_, reject) => setTimeout(() => reject(new Error('no exit within 60 s')), 60_000)),
  ]);
}

interface RunView {
  status: string;
  idempotencyKey: { status: string };
  signals: unknown[];
  deadLetter?: { reason: string };
}

afterAll(() => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
});

describe('runlane local, as a user runs it', () => {
  it('serves the demo scenario end to end and stops cleanly on SIGTERM, leaving no process behind', async () => {
    const stack = await startStack(['--ephemeral']);
    const report = await runDemo({ apiUrl: stack.apiUrl, timeoutMs: 90_000, progress: () => undefined });
    for (const row of report.rows)
      expect(row.asExpected, `${row.label}: expected ${row.expected}, got ${row.status} ${row.outcome}`).toBe(
        true,
      );
    expect(report.rows.map((r) => r.label)).toEqual(
      expect.arrayContaining([
        'good message',
        'same commandId delivered twice',
        'invalid JSON at the API',
        'invalid JSON from a producer',
        'invalid envelope from a producer',
        'unsupported command type',
        'handler fails twice, then succeeds',
        'high-impact proposal',
        'approval of the proposal',
        'message without a token',
        "another household reads this household's run",
        'approval decided by a member (not an approver)',
      ]),
    );
    expect(
      report.deadLetters
        .filter((d) => d.fromThisDemo)
        .map((d) => d.reason)
        .sort(),
    ).toEqual(['invalid_envelope', 'invalid_json', 'unsupported_command_type']);
    expect(report.reviewQueue.filter((r) => r.fromThisDemo).length).toBeGreaterThanOrEqual(3);

    // The same EMF metric lines as in Lambda: accepted by the API, outcomes by the workers.
    const emf = stack
      .stdout()
      .split('\n')
      .filter((line) => line.includes('"_aws"'))
      .map(
        (line) =>
          JSON.parse(line) as {
            _aws: { CloudWatchMetrics: { Namespace: string; Metrics: { Name: string }[] }[] };
          },
      );
    const names = new Set(
      emf.flatMap((e) => e._aws.CloudWatchMetrics.flatMap((m) => m.Metrics.map((x) => x.Name))),
    );
    expect(emf.every((e) => e._aws.CloudWatchMetrics.every((m) => m.Namespace === 'Runlane'))).toBe(true);
    expect([...names]).toEqual(
      expect.arrayContaining(['CommandsAccepted', 'CommandsCompleted', 'CommandsDeadLettered']),
    );

    const below = descendants(stack.child.pid ?? 0);
    expect(below.length).toBeGreaterThan(0); // DynamoDB Local's JVM at least
    expect(await stopStack(stack)).toBe(0);
    await expect.poll(() => below.filter(alive), { timeout: 10_000 }).toEqual([]);
  }, 240_000);

  it('brings every accepted command to exactly one terminal state after a SIGTERM mid-load and a restart', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'runlane-local-data-'));
    try {
      const first = await startStack(['--data-dir', dataDir]);
      const household = (await connectLocalApi(first.apiUrl)).household('hh-load');
      const accepted: string[] = [];
      const texts = [
        'remind me to renew the passport',
        'pay 45 to the gardener',
        'categorize the receipts',
        'hello',
      ];
      for (let i = 0; i < 150; i += 15) {
        const responses = await Promise.all(
          Array.from({ length: 15 }, (_, j) =>
            household('POST', `/api/v1/agent/conversations/load-${(i + j) % 7}/messages`, {
              text: texts[(i + j) % texts.length],
            }),
          ),
        );
        for (const response of responses) {
          expect(response.status).toBe(202);
          accepted.push((response.body as { commandId: string }).commandId);
        }
      }
      // Mid-load: stop while the lanes are still working through the backlog.
      expect(await stopStack(first)).toBe(0);

      const second = await startStack(['--data-dir', dataDir]);
      // The auth folder lives in the data folder: the same operator credentials after the restart.
      const operator = (await connectLocalApi(second.apiUrl)).operator;
      const terminal = async (commandId: string): Promise<RunView | undefined> => {
        const response = await operator('GET', `/api/v1/runs/${commandId}`);
        if (response.status !== 200) return undefined;
        const run = response.body as RunView;
        return run.idempotencyKey.status === 'Reserved' ? undefined : run;
      };
      const deadline = Date.now() + 90_000;
      const finished = new Map<string, RunView>();
      while (finished.size < accepted.length && Date.now() < deadline) {
        for (const commandId of accepted) {
          if (finished.has(commandId)) continue;
          const run = await terminal(commandId);
          if (run) finished.set(commandId, run);
        }
        if (finished.size < accepted.length) await new Promise((resolve) => setTimeout(resolve, 500));
      }
      expect(finished.size).toBe(accepted.length);
      for (const [commandId, run] of finished) {
        const endings = [
          run.status === 'Completed' && run.idempotencyKey.status === 'Completed',
          run.status === 'NeedsReview' && run.idempotencyKey.status === 'Completed' && run.signals.length > 0,
          run.idempotencyKey.status === 'Rejected' && run.deadLetter !== undefined,
        ];
        expect(endings.filter(Boolean), commandId).toHaveLength(1);
      }
      expect(await stopStack(second)).toBe(0);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 300_000);

  it('refuses a data folder it cannot read, saying how to reset it', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'runlane-corrupt-'));
    try {
      mkdirSync(join(dataDir, 'sqs'));
      writeFileSync(join(dataDir, 'sqs', 'fauxqs.db'), 'this is not a database');
      const result = runCliOnce(['--data-dir', dataDir]);
      expect(result.status).toBe(1);
      expect(result.stderr).toContain(`The data folder ${dataDir} could not be used`);
      expect(result.stderr).toContain('npm start -- --reset');
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 60_000);

  it('refuses to start on a busy port, naming it', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', () => resolve()));
    const port = (blocker.address() as AddressInfo).port;
    try {
      const result = runCliOnce(['--ephemeral', '--port', String(port)]);
      expect(result.status).toBe(1);
      expect(result.stderr).toContain(`API cannot listen on 127.0.0.1:${port}: the port is already in use`);
    } finally {
      blocker.close();
    }
  }, 60_000);
});

function runCliOnce(args: string[]) {
  return spawnSync(
    process.execPath,
    [
      '--import',
      'tsx',
      'cli/main.ts',
      'local',
      '--dynamo-port',
      '0',
      '--sqs-port',
      '0',
      '--events-port',
      '0',
      ...args,
    ],
    { cwd: projectRoot, encoding: 'utf8', timeout: 50_000 },
  );
}
