import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { lstatSync } from 'node:fs';
import { chmod, lstat, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { createServer, Server } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  ControlClientError,
  ControlServer,
  ControlSocketError,
  ControlSocketInUseError,
  sendControlCommand,
} from '#agent/control/index.js';
import type { ControlCommand } from '#agent/supervisor/handle.js';
import { CURRENT_STATE, FakeHandle, HEALTH, RawConnection, tempSocketDirectory } from './control-helpers.js';

let temp: { directory: string; remove: () => Promise<void> };
let socketPath: string;
let handle: FakeHandle;
const servers: ControlServer[] = [];
const children: ChildProcess[] = [];

beforeEach(async () => {
  temp = await tempSocketDirectory();
  socketPath = join(temp.directory, 'supervisor.sock');
  handle = new FakeHandle();
});
afterEach(async () => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
  await Promise.all(servers.splice(0).map((server) => server.close()));
  await temp.remove();
});

async function startServer(
  options: Partial<ConstructorParameters<typeof ControlServer>[0]> = {},
): Promise<ControlServer> {
  const server = new ControlServer({ path: socketPath, handle, ...options });
  servers.push(server);
  await server.listen();
  return server;
}

/** The client's rejection, so a test can look at its code. */
async function clientError(promise: Promise<unknown>): Promise<ControlClientError> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(ControlClientError);
  return error as ControlClientError;
}

/** A separate node process serving a Unix socket at `path`; resolves once it listens. */
async function spawnListener(path: string): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    ['-e', "require('node:net').createServer().listen(process.argv[1], () => console.log('ready'))", path],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  children.push(child);
  const [data] = (await once(child.stdout as NodeJS.ReadableStream, 'data')) as [Buffer];
  expect(data.toString()).toContain('ready');
  return child;
}

describe('control socket round trips', () => {
  it('answers health and current-state with the handle’s values', async () => {
    await startServer();
    expect(await sendControlCommand(socketPath, { command: 'health' })).toEqual({ ok: true, health: HEALTH });
    expect(await sendControlCommand(socketPath, { command: 'current-state' })).toEqual({
      ok: true,
      current_state: CURRENT_STATE,
    });
  });

  it('passes every mutating command to the handle as sent and answers CommandResult::Accepted', async () => {
    await startServer();
    const commands: ControlCommand[] = [
      { command: 'remove-child', name: 'relay' },
      { command: 'add-child', spec: { name: 'echo', command: 'echo', args: ['hi'] } },
      { command: 'quarantine-child', name: 'relay' },
      { command: 'release-child', name: 'relay' },
      { command: 'restart-child', name: 'relay' },
    ];
    for (const command of commands)
      expect(await sendControlCommand(socketPath, command)).toEqual({ result: 'Accepted' });
    expect(handle.executed).toEqual(commands);
  });

  it('passes a Rejected reason through unchanged', async () => {
    await startServer();
    expect(await sendControlCommand(socketPath, { command: 'remove-child', name: 'ghost' })).toEqual({
      result: 'Rejected',
      reason: 'no child named ghost',
    });
  });

  it('answers requests sent in one write in order, and a half-closed client still gets its answers', async () => {
    await startServer();
    handle.answer = async (command) => {
      // The first command answers last if the server did not keep the order.
      if ('name' in command && command.name === 'slow') await new Promise((r) => setTimeout(r, 50));
      return { result: 'Rejected', reason: 'name' in command ? command.name : '' };
    };
    const connection = await RawConnection.open(socketPath);
    connection.write(
      `${JSON.stringify({ command: 'restart-child', name: 'slow' })}\n${JSON.stringify({ command: 'health' })}\r\n` +
        `${JSON.stringify({ command: 'restart-child', name: 'fast' })}\n`,
    );
    connection.socket.end();
    expect(await connection.next()).toEqual({ result: 'Rejected', reason: 'slow' });
    expect(await connection.next()).toEqual({ ok: true, health: HEALTH });
    expect(await connection.next()).toEqual({ result: 'Rejected', reason: 'fast' });
    await connection.closed();
  });
});

describe('requests that are not the protocol’s', () => {
  it('answers a malformed line with field_path "command" and keeps the connection usable', async () => {
    await startServer();
    const connection = await RawConnection.open(socketPath);
    connection.write('{"command": "health"\n');
    expect(await connection.next()).toEqual({
      ok: false,
      error: 'request is not valid JSON',
      field_path: 'command',
    });
    connection.write('{"command":"health"}\n');
    expect(await connection.next()).toEqual({ ok: true, health: HEALTH });
    connection.destroy();
  });

  it('answers an unknown command (and a non-object) with field_path "command" listing the commands', async () => {
    await startServer();
    const connection = await RawConnection.open(socketPath);
    connection.write('{"command":"reboot"}\n42\n');
    const unknown = (await connection.next()) as { ok: boolean; error: string; field_path: string };
    expect(unknown).toMatchObject({ ok: false, field_path: 'command' });
    expect(unknown.error).toContain('unknown command');
    expect(unknown.error).toContain('remove-child');
    expect(await connection.next()).toMatchObject({ ok: false, field_path: 'command' });
    connection.write('{"command":"current-state"}\n');
    expect(await connection.next()).toEqual({ ok: true, current_state: CURRENT_STATE });
    expect(handle.executed).toEqual([]);
    connection.destroy();
  });

  it('names the offending field: a missing name, an unknown key, a spec that is not an object', async () => {
    await startServer();
    const connection = await RawConnection.open(socketPath);
    connection.write(
      '{"command":"remove-child"}\n{"command":"health","verbose":true}\n{"command":"add-child","spec":"x"}\n' +
        '{"command":"remove-child","name":""}\n',
    );
    expect(await connection.next()).toMatchObject({ ok: false, field_path: 'name' });
    expect(await connection.next()).toMatchObject({ ok: false, field_path: 'verbose' });
    expect(await connection.next()).toMatchObject({ ok: false, field_path: 'spec' });
    expect(await connection.next()).toMatchObject({ ok: false, field_path: 'name' });
    expect(handle.executed).toEqual([]);
    connection.destroy();
  });

  it('answers a line over 64 KiB once, skips the rest of it and serves the next line', async () => {
    await startServer();
    const connection = await RawConnection.open(socketPath);
    const huge = JSON.stringify({ command: 'remove-child', name: 'x'.repeat(70 * 1024) });
    // In pieces, so the limit is hit before the newline arrives; the line's tail comes with the next request.
    const tail = huge.length - 100;
    for (let offset = 0; offset < tail; offset += 8 * 1024)
      connection.write(huge.slice(offset, Math.min(offset + 8 * 1024, tail)));
    const answer = (await connection.next()) as { ok: boolean; error: string };
    expect(answer).toMatchObject({ ok: false, field_path: 'command' });
    expect(answer.error).toContain('65536 bytes');
    connection.write(`${huge.slice(tail)}\n{"command":"health"}\n`);
    expect(await connection.next()).toEqual({ ok: true, health: HEALTH });
    expect(handle.executed).toEqual([]);
    connection.destroy();
  });

  it('keeps a line of exactly maxLineBytes and refuses one byte more', async () => {
    await startServer({ maxLineBytes: 64 });
    const exact = `{"command":"remove-child","name":"${'a'.repeat(64 - 36)}"}`;
    expect(Buffer.byteLength(exact)).toBe(64);
    const connection = await RawConnection.open(socketPath);
    connection.write(`${exact}\n`);
    expect(await connection.next()).toEqual({ result: 'Accepted' });
    connection.write(`${exact.replace('"a', '"aa')}\n`);
    expect(await connection.next()).toMatchObject({ ok: false, error: 'request line longer than 64 bytes' });
    connection.destroy();
  });

  it('answers a handle that throws with a generic error, logs why, and keeps serving', async () => {
    const logged: string[] = [];
    await startServer({ log: (line) => logged.push(line) });
    handle.answer = async () => {
      throw new Error('secret internals');
    };
    const connection = await RawConnection.open(socketPath);
    connection.write('{"command":"restart-child","name":"relay"}\n');
    expect(await connection.next()).toEqual({
      ok: false,
      error: 'the supervisor failed to handle restart-child',
    });
    expect(logged.join('\n')).toContain('secret internals');
    connection.write('{"command":"health"}\n');
    expect(await connection.next()).toEqual({ ok: true, health: HEALTH });
    connection.destroy();
  });

  it('turns away a connection over maxConnections with an error, and serves again once one closes', async () => {
    await startServer({ maxConnections: 2 });
    const first = await RawConnection.open(socketPath);
    const second = await RawConnection.open(socketPath);
    // Both are registered once they have been answered.
    for (const connection of [first, second]) {
      connection.write('{"command":"health"}\n');
      await connection.next();
    }
    const third = await RawConnection.open(socketPath);
    expect(await third.next()).toMatchObject({ ok: false, error: 'too many control connections; try again' });
    await third.closed();
    first.destroy();
    await first.closed();
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(await sendControlCommand(socketPath, { command: 'health' })).toEqual({ ok: true, health: HEALTH });
    second.destroy();
  });

  it('closes a connection that stays idle past idleTimeoutMs', async () => {
    await startServer({ idleTimeoutMs: 100 });
    const connection = await RawConnection.open(socketPath);
    const started = Date.now();
    await connection.closed();
    expect(Date.now() - started).toBeGreaterThanOrEqual(90);
  });
});

describe('socket file', () => {
  it('is 0600 from the moment it is bound, even under umask 0, in a folder created 0700', async () => {
    socketPath = join(temp.directory, 'run', 'runlane', 'supervisor.sock');
    // bind(2) happens inside listen(): look at the file right then, before any later chmod could narrow it.
    let modeAtBind: number | undefined;
    const listen = Server.prototype.listen;
    const spy = vi.spyOn(Server.prototype, 'listen').mockImplementation(function (
      this: Server,
      ...args: unknown[]
    ) {
      const result = (listen as (...a: unknown[]) => Server).apply(this, args);
      modeAtBind = lstatSync(socketPath).mode & 0o777;
      return result;
    });
    const previous = process.umask(0);
    try {
      await startServer();
    } finally {
      process.umask(previous);
      spy.mockRestore();
    }
    expect(modeAtBind).toBe(0o600);
    const socket = await lstat(socketPath);
    expect(socket.isSocket()).toBe(true);
    expect(socket.mode & 0o777).toBe(0o600);
    expect((await stat(join(temp.directory, 'run', 'runlane'))).mode & 0o777).toBe(0o700);
    expect((await stat(join(temp.directory, 'run'))).mode & 0o777).toBe(0o700);
    expect(process.umask()).toBe(previous);
  });

  it('refuses a second supervisor on the same path with field_path="dashboard.path"; the first still answers', async () => {
    await startServer();
    const second = new ControlServer({ path: socketPath, handle: new FakeHandle() });
    const error = await second.listen().then(
      () => undefined,
      (reason: unknown) => reason,
    );
    expect(error).toBeInstanceOf(ControlSocketInUseError);
    expect((error as ControlSocketInUseError).fieldPath).toBe('dashboard.path');
    expect((error as Error).message).toContain('field_path="dashboard.path"');
    expect((error as Error).message).toContain(socketPath);
    await second.close();
    expect(await sendControlCommand(socketPath, { command: 'health' })).toEqual({ ok: true, health: HEALTH });
  });

  it('refuses a path another process serves', async () => {
    await spawnListener(socketPath);
    await expect(new ControlServer({ path: socketPath, handle }).listen()).rejects.toThrow(
      'field_path="dashboard.path"',
    );
    expect((await lstat(socketPath)).isSocket()).toBe(true);
  });

  it('replaces the stale socket a SIGKILLed server left behind', async () => {
    const listener = await spawnListener(socketPath);
    listener.kill('SIGKILL');
    await once(listener, 'exit');
    expect((await lstat(socketPath)).isSocket()).toBe(true);
    expect((await clientError(sendControlCommand(socketPath, { command: 'health' }))).code).toBe(
      'stale_socket',
    );
    const logged: string[] = [];
    await startServer({ log: (line) => logged.push(line) });
    expect(logged.join('\n')).toContain('stale socket');
    expect(await sendControlCommand(socketPath, { command: 'health' })).toEqual({ ok: true, health: HEALTH });
  });

  it('refuses to replace a path that is not a socket, and leaves the file alone', async () => {
    await writeFile(socketPath, 'precious');
    const error = await new ControlServer({ path: socketPath, handle }).listen().then(
      () => undefined,
      (reason: unknown) => reason,
    );
    expect(error).toBeInstanceOf(ControlSocketError);
    expect((error as Error).message).toContain('not a socket');
    expect((error as Error).message).toContain('field_path="dashboard.path"');
    expect(await readFile(socketPath, 'utf8')).toBe('precious');
  });

  it('refuses a path longer than a Unix socket address holds', async () => {
    const long = join(temp.directory, `${'s'.repeat(120)}.sock`);
    await expect(new ControlServer({ path: long, handle }).listen()).rejects.toThrow(
      /longer than 10\d bytes/,
    );
  });

  it('is removed on close, which also ends open connections, and close twice is fine', async () => {
    const server = await startServer();
    const connection = await RawConnection.open(socketPath);
    await server.close();
    await connection.closed();
    await expect(lstat(socketPath)).rejects.toMatchObject({ code: 'ENOENT' });
    await server.close();
    expect((await clientError(sendControlCommand(socketPath, { command: 'health' }))).code).toBe(
      'no_supervisor',
    );
  });
});

describe('sendControlCommand errors', () => {
  it('no_supervisor when nothing is at the path', async () => {
    const error = await clientError(
      sendControlCommand(join(temp.directory, 'none.sock'), { command: 'health' }),
    );
    expect(error.code).toBe('no_supervisor');
    expect(error.message).toContain('none.sock');
  });

  it('timeout when the server accepts but never answers', async () => {
    const silent: Server = createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(socketPath, resolve));
    try {
      const started = Date.now();
      const error = await clientError(
        sendControlCommand(socketPath, { command: 'health' }, { timeoutMs: 150 }),
      );
      expect(error.code).toBe('timeout');
      expect(error.message).toContain('150 ms');
      expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    } finally {
      silent.close();
    }
  });

  it('protocol when the answer is not the command’s', async () => {
    const liar: Server = createServer((socket) => socket.end('{"ok":true,"health":{"status":"fine"}}\n'));
    await new Promise<void>((resolve) => liar.listen(socketPath, resolve));
    try {
      expect((await clientError(sendControlCommand(socketPath, { command: 'health' }))).code).toBe(
        'protocol',
      );
      expect(
        (await clientError(sendControlCommand(socketPath, { command: 'remove-child', name: 'a' }))).code,
      ).toBe('protocol');
    } finally {
      liar.close();
    }
  });

  // As root the check needs another user (nobody) to run this checkout's node and sources; a checkout
  // inside a private folder (e.g. a mktemp -d clone) does not allow that, and the test says so by skipping.
  it.skipIf(process.getuid?.() === 0 && !nobodyCanRunNode())(
    'permission_denied for another user (the socket is owner-only)',
    async () => {
      // The folder lets anyone through, so only the socket's own mode stands in the way.
      await chmod(temp.directory, 0o711);
      await startServer();
      if (process.getuid?.() === 0) {
        // Root passes permission checks, so ask as `nobody` from a separate process.
        const client = fileURLToPath(new URL('../../agent/control/control-client.ts', import.meta.url));
        const script =
          'const { sendControlCommand } = await import(process.argv[1]);' +
          "sendControlCommand(process.argv[2], { command: 'health' }).then(" +
          '() => console.log("answered"), (error) => console.log(error.code));';
        const child = spawn(
          process.execPath,
          ['--import', 'tsx', '--input-type=module', '-e', script, client, socketPath],
          {
            uid: 65_534,
            gid: 65_534,
            stdio: ['ignore', 'pipe', 'pipe'],
            env: { ...process.env, HOME: '/tmp' },
          },
        );
        let output = '';
        child.stdout.on('data', (data: Buffer) => {
          output += data.toString();
        });
        child.stderr.on('data', (data: Buffer) => {
          output += data.toString();
        });
        await once(child, 'exit');
        expect(output.trim()).toBe('permission_denied');
      } else {
        await chmod(socketPath, 0);
        expect((await clientError(sendControlCommand(socketPath, { command: 'health' }))).code).toBe(
          'permission_denied',
        );
      }
    },
  );
});

describe('folder handling', () => {
  it('leaves an existing folder’s mode alone', async () => {
    const folder = join(temp.directory, 'shared');
    await mkdir(folder, { mode: 0o755 });
    await chmod(folder, 0o755);
    socketPath = join(folder, 'supervisor.sock');
    await startServer();
    expect((await stat(folder)).mode & 0o777).toBe(0o755);
    expect((await lstat(socketPath)).mode & 0o777).toBe(0o600);
  });
});

/** Whether uid 65534 can start this checkout's node and read its sources (false inside a 0700 folder). */
function nobodyCanRunNode(): boolean {
  const client = fileURLToPath(new URL('../../agent/control/control-client.ts', import.meta.url));
  const probe = spawnSync(
    process.execPath,
    ['-e', `require('node:fs').accessSync(${JSON.stringify(client)})`],
    {
      uid: 65_534,
      gid: 65_534,
      stdio: 'ignore',
    },
  );
  return probe.error === undefined && probe.status === 0;
}
