import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCtlCli } from '#agent/cli/ctl.js';
import { ControlServer } from '#agent/control/index.js';
import { CURRENT_STATE, FakeHandle, HEALTH, tempSocketDirectory } from './control-helpers.js';

let temp: { directory: string; remove: () => Promise<void> };
let socketPath: string;
let handle: FakeHandle;
let server: ControlServer;

beforeEach(async () => {
  temp = await tempSocketDirectory();
  socketPath = join(temp.directory, 'supervisor.sock');
  handle = new FakeHandle();
  server = new ControlServer({ path: socketPath, handle });
  await server.listen();
});
afterEach(async () => {
  await server.close();
  await temp.remove();
});

class Capture extends Writable {
  public text = '';
  public override _write(chunk: Buffer, _encoding: BufferEncoding, callback: () => void): void {
    this.text += chunk.toString();
    callback();
  }
}

/** Runs `runlane-agent ctl <argv>` in-process with captured streams. */
async function ctl(argv: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new Capture();
  const stderr = new Capture();
  const code = await runCtlCli(argv, { env: {}, stdout, stderr, cwd: temp.directory });
  return { code, stdout: stdout.text, stderr: stderr.text };
}

describe('ctl health', () => {
  it('prints aligned seed field names and exits 0', async () => {
    const { code, stdout, stderr } = await ctl(['health', '--socket', socketPath]);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toBe(
      [
        'status                   ready',
        'uptime_secs              42',
        'control_loop_iterations  1337',
        'dashboard_link           connected',
        'children.running         2',
        'children.failed          1',
        'children.quarantined     1',
        'children.target_count    3',
        '',
      ].join('\n'),
    );
  });

  it('exits 0 when degraded and disconnected, and prints it', async () => {
    handle.health_ = { ...HEALTH, status: 'degraded', dashboard_link: 'disconnected' };
    const { code, stdout } = await ctl(['health', '--socket', socketPath]);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^status {19}degraded$/m);
    expect(stdout).toMatch(/^dashboard_link {11}disconnected$/m);
  });

  it('--json prints the raw answer', async () => {
    const { code, stdout } = await ctl(['health', '--json', '--socket', socketPath]);
    expect(code).toBe(0);
    expect(stdout.endsWith('\n')).toBe(true);
    expect(JSON.parse(stdout)).toEqual({ ok: true, health: HEALTH });
  });

  it('finds the socket through the supervisor config’s dashboard.path (relative to the working directory)', async () => {
    await writeFile(
      join(temp.directory, 'supervisor.json'),
      JSON.stringify({ dashboard: { path: 'supervisor.sock' }, children: [] }),
    );
    const { code, stdout } = await ctl(['health', '--config', 'supervisor.json']);
    expect(code).toBe(0);
    expect(stdout).toContain('control_loop_iterations  1337');
  });
});

describe('ctl state', () => {
  it('prints the counts and a table of children with their last TaskExit and budget', async () => {
    const { code, stdout } = await ctl(['state', '--socket', socketPath]);
    expect(code).toBe(0);
    expect(stdout).toBe(
      [
        'status degraded  running 1  failed 1  quarantined 1  target_count 3',
        'name          pid   state        restart_count  last_exit                                        tokens',
        'relay         4242  running      0              -                                                5/5',
        'crashy        -     quarantined  5              TaskExit::Failed (code 1: boom)                  0/5',
        'stuck-worker  5151  backoff      12             TaskExit::Killed (signal SIGKILL: idle timeout)  3/10',
        '',
      ].join('\n'),
    );
  });

  it('says so when there are no children', async () => {
    handle.state = { ...CURRENT_STATE, child_runtime_records: [] };
    const { code, stdout } = await ctl(['state', '--socket', socketPath]);
    expect(code).toBe(0);
    expect(stdout).toContain('(no children)');
  });

  it('--json prints the raw answer (current-state works as a name too)', async () => {
    for (const name of ['state', 'current-state']) {
      const { code, stdout } = await ctl([name, '--socket', socketPath, '--json']);
      expect(code).toBe(0);
      expect(JSON.parse(stdout)).toEqual({ ok: true, current_state: CURRENT_STATE });
    }
  });
});

describe('ctl child commands', () => {
  it('sends each command with its name, prints CommandResult::Accepted and exits 0', async () => {
    for (const command of ['remove-child', 'quarantine-child', 'release-child', 'restart-child']) {
      const { code, stdout } = await ctl([command, 'relay', '--socket', socketPath]);
      expect(code).toBe(0);
      expect(stdout).toBe('CommandResult::Accepted\n');
    }
    expect(handle.executed).toEqual([
      { command: 'remove-child', name: 'relay' },
      { command: 'quarantine-child', name: 'relay' },
      { command: 'release-child', name: 'relay' },
      { command: 'restart-child', name: 'relay' },
    ]);
  });

  it('prints the Rejected reason and exits 1; --json prints the raw result with the same code', async () => {
    const human = await ctl(['remove-child', 'ghost', '--socket', socketPath]);
    expect(human.code).toBe(1);
    expect(human.stdout).toBe('CommandResult::Rejected { reason: "no child named ghost" }\n');
    const json = await ctl(['remove-child', 'ghost', '--socket', socketPath, '--json']);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toEqual({ result: 'Rejected', reason: 'no child named ghost' });
  });

  it('add-child sends the --spec object, inline or from @file', async () => {
    const spec = { name: 'echo', command: 'echo', args: ['hi'], restart_policy: 'transient' };
    await writeFile(join(temp.directory, 'child.json'), JSON.stringify(spec));
    expect((await ctl(['add-child', '--spec', JSON.stringify(spec), '--socket', socketPath])).code).toBe(0);
    expect((await ctl(['add-child', '--spec', '@child.json', '--socket', socketPath])).code).toBe(0);
    expect(handle.executed).toEqual([
      { command: 'add-child', spec },
      { command: 'add-child', spec },
    ]);
  });
});

describe('ctl usage and failures', () => {
  it('exits 2 on bad usage without sending anything', async () => {
    const cases: readonly string[][] = [
      [],
      ['reboot', '--socket', socketPath],
      ['health'],
      ['remove-child', '--socket', socketPath],
      ['remove-child', 'a', 'b', '--socket', socketPath],
      ['health', 'extra', '--socket', socketPath],
      ['health', '--socket', socketPath, '--timeout-ms', '0'],
      ['health', '--socket', socketPath, '--verbose'],
      ['add-child', '--socket', socketPath],
      ['add-child', '--spec', '{not json', '--socket', socketPath],
      ['add-child', '--spec', '[1]', '--socket', socketPath],
      ['add-child', '--spec', '@missing.json', '--socket', socketPath],
      ['remove-child', 'relay', '--spec', '{}', '--socket', socketPath],
      ['health', '--config', 'missing.json'],
    ];
    for (const argv of cases) {
      const { code, stderr } = await ctl(argv);
      expect({ argv, code }).toEqual({ argv, code: 2 });
      expect(stderr).toMatch(/Usage: runlane-agent ctl|\(add --help for usage\)/);
    }
    expect(handle.executed).toEqual([]);
  });

  it('names dashboard.path when the config has no socket path', async () => {
    await writeFile(join(temp.directory, 'supervisor.json'), JSON.stringify({ children: [] }));
    const { code, stderr } = await ctl(['health', '--config', 'supervisor.json']);
    expect(code).toBe(2);
    expect(stderr).toContain('field_path="dashboard.path"');
  });

  it('exits 2 when the supervisor refuses the request’s shape (names the field)', async () => {
    const { code, stderr } = await ctl(['remove-child', 'x'.repeat(300), '--socket', socketPath]);
    expect(code).toBe(2);
    expect(stderr).toContain('field_path="name"');
  });

  it('--help on every command prints its usage and the exit codes, exit 0', async () => {
    const commands = [
      'health',
      'state',
      'remove-child',
      'add-child',
      'quarantine-child',
      'release-child',
      'restart-child',
    ];
    for (const command of commands) {
      const { code, stdout } = await ctl([command, '--help']);
      expect(code).toBe(0);
      expect(stdout).toContain(`Usage: runlane-agent ctl ${command}`);
      expect(stdout).toContain('exit: 0');
      expect(stdout).toContain('1 CommandResult::Rejected');
      expect(stdout).toContain('2 bad usage');
    }
    const top = await ctl(['--help']);
    expect(top.code).toBe(0);
    for (const command of commands) expect(top.stdout).toContain(`  ${command}`);
  });

  it('exits 1 with a clear message when no supervisor is at the socket', async () => {
    const { code, stderr } = await ctl(['health', '--socket', join(temp.directory, 'other.sock')]);
    expect(code).toBe(1);
    expect(stderr).toContain('no supervisor control socket at');
    expect(stderr).toContain('other.sock');
  });
});

describe('ctl as a real process', () => {
  it('node --import tsx runs runCtlCli against the socket: output and exit codes', async () => {
    const entry = fileURLToPath(new URL('../../agent/cli/ctl.ts', import.meta.url));
    const script =
      'const { runCtlCli } = await import(process.argv[1]);' +
      'process.exitCode = await runCtlCli(process.argv.slice(2), ' +
      '{ env: process.env, stdout: process.stdout, stderr: process.stderr });';
    const run = async (args: readonly string[]): Promise<{ code: number | null; stdout: string }> => {
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', '--input-type=module', '-e', script, entry, ...args],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      );
      let stdout = '';
      child.stdout.on('data', (data: Buffer) => {
        stdout += data.toString();
      });
      const [code] = (await once(child, 'exit')) as [number | null];
      return { code, stdout };
    };
    const health = await run(['health', '--socket', socketPath]);
    expect(health).toEqual({ code: 0, stdout: expect.stringContaining('status                   ready\n') });
    const rejected = await run(['restart-child', 'ghost', '--socket', socketPath]);
    expect(rejected).toEqual({
      code: 1,
      stdout: 'CommandResult::Rejected { reason: "no child named ghost" }\n',
    });
  });
});
