import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, chown, mkdir, readdir, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HostFileError } from '#agent/errors.js';
import { OfflineSpool, SpoolLockedError } from '#agent/spool/index.js';
import { ManualClock, RecordingReceiver, tempSpoolDirectory } from './spool-helpers.js';

/**
 * Issue 18, host files: the spool trusts only what this agent wrote (an HMAC with a key of its
 * own), lives in a private folder, and belongs to one agent at a time.
 */

let directory: string;
let remove: () => Promise<void>;
beforeEach(async () => {
  ({ directory, remove } = await tempSpoolDirectory());
});
afterEach(async () => {
  await remove();
});

const spoolWith = (extra: Partial<ConstructorParameters<typeof OfflineSpool>[0]> = {}) =>
  new OfflineSpool({ directory, maxBytes: 1_000_000, clock: new ManualClock(), lockWaitMs: 0, ...extra });

/** A spool file in the pre-issue-18 format, with a SHA-256 anyone can compute. */
function plantedWithChecksum(payloadType: string, timestamp: number, id: string, body: unknown): Buffer {
  const record = Buffer.from(JSON.stringify({ payloadType, timestamp, id, body }));
  const forged = (field: string) =>
    Buffer.concat([
      Buffer.from(`{"${field}":"`),
      Buffer.from(createHash('sha256').update(record).digest('hex')),
      Buffer.from('","record":'),
      record,
      Buffer.from('}\n'),
    ]);
  return payloadType === 'stall' ? forged('sha256') : forged('hmac');
}

describe('OfflineSpool: authenticated entries', () => {
  it('a planted file with a self-computed checksum is quarantined with its reason, never sent', async () => {
    const spool = spoolWith();
    await spool.write({ payloadType: 'stall', id: 'genuine', body: { ok: true } });
    // Another local user plants two events: the old checksum format, and the new framing with a SHA-256 in the hmac field.
    await writeFile(
      join(directory, 'stall-1700000000500-planted-old.json'),
      plantedWithChecksum('stall', 1_700_000_000_500, 'planted-old', { evil: 1 }),
    );
    await writeFile(
      join(directory, 'run_summary-1700000000600-planted-new.json'),
      plantedWithChecksum('run_summary', 1_700_000_000_600, 'planted-new', { evil: 2 }),
    );
    const reader = spoolWith();
    const receiver = new RecordingReceiver();

    const result = await reader.replay(receiver.deliver);

    expect(receiver.sent).toEqual(['genuine']);
    expect(result).toMatchObject({ delivered: 1, quarantined: 2, remaining: 0 });
    expect(reader.stats()).toMatchObject({ quarantined: 2, unauthenticated: 2 });
    const quarantine = join(directory, 'quarantine');
    expect((await readdir(quarantine)).sort()).toEqual([
      'reasons.jsonl',
      'run_summary-1700000000600-planted-new.json',
      'stall-1700000000500-planted-old.json',
    ]);
    const reasons = (await readFile(join(quarantine, 'reasons.jsonl'), 'utf8'))
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { file: string; reason: string });
    expect(reasons).toEqual(
      expect.arrayContaining([
        {
          ts: expect.any(String),
          file: 'run_summary-1700000000600-planted-new.json',
          reason: expect.stringMatching(/hmac mismatch/),
        },
        {
          ts: expect.any(String),
          file: 'stall-1700000000500-planted-old.json',
          reason: expect.stringMatching(/no hmac/),
        },
      ]),
    );
    await reader.close();
    await spool.close();
  });

  it.skipIf(process.getuid?.() !== 0)(
    "an entry owned by another user is quarantined even when its bytes are a genuine entry's",
    async () => {
      const spool = spoolWith();
      const { fileName } = await spool.write({ payloadType: 'stall', id: 'copied', body: { ok: true } });
      await spool.close();
      await chown(join(directory, fileName), 65_534, 65_534);
      const reader = spoolWith();
      const receiver = new RecordingReceiver();
      expect(await reader.replay(receiver.deliver)).toMatchObject({ delivered: 0, quarantined: 1 });
      expect(receiver.sent).toEqual([]);
      expect(await readFile(join(directory, 'quarantine', 'reasons.jsonl'), 'utf8')).toContain(
        "owned by uid 65534, not this agent's user",
      );
      await reader.close();
    },
  );

  it('a symbolic link planted as an entry is quarantined, its target never read or sent', async () => {
    await mkdir(directory, { mode: 0o700 });
    const victim = join(directory, '..', 'victim.json');
    await writeFile(victim, 'secret');
    await symlink(victim, join(directory, 'stall-1700000000900-linked.json'));
    const spool = spoolWith();
    const receiver = new RecordingReceiver();
    const result = await spool.replay(receiver.deliver);
    expect(receiver.sent).toEqual([]);
    expect(result).toMatchObject({ quarantined: 1 });
    expect(await readFile(victim, 'utf8')).toBe('secret');
    await spool.close();
  });

  it('the key is made once, 0600, next to the spool in the state folder; a key others can read is refused', async () => {
    const spool = spoolWith();
    await spool.write({ payloadType: 'stall', id: 'a', body: {} });
    await spool.close();
    const keyFile = `${directory}.key`;
    expect((await stat(keyFile)).mode & 0o777).toBe(0o600);
    const key = await readFile(keyFile, 'utf8');
    await spoolWith().open();
    expect(await readFile(keyFile, 'utf8')).toBe(key);
    await chmod(keyFile, 0o644);
    const error = await spoolWith({ keyFile })
      .open()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HostFileError);
    expect((error as Error).message).toContain(keyFile);
  });
});

describe('OfflineSpool: a private folder, one agent at a time', () => {
  it('creates the folder 0700; refuses one with group/other access, naming it', async () => {
    const spool = spoolWith();
    await spool.open();
    expect((await stat(directory)).mode & 0o777).toBe(0o700);
    await spool.close();
    await chmod(directory, 0o755);
    const error = await spoolWith()
      .open()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HostFileError);
    expect((error as Error).message).toBe(
      `refusing to start: ${directory} has mode 0755: group and others must have no access (chmod 700 ${directory})`,
    );
  });

  it('refuses a spool folder that is a symbolic link', async () => {
    const real = `${directory}-real`;
    await mkdir(real, { mode: 0o700 });
    await symlink(real, directory);
    await expect(spoolWith().open()).rejects.toThrow(/is a symbolic link/);
  });

  it('a second agent (another process) cannot open a spool a live agent holds; pending() there touches nothing', async () => {
    const spool = spoolWith();
    await spool.write({ payloadType: 'stall', id: 'mine', body: {} });
    // A writer mid-write (its temp file) while another process looks.
    const temp = join(directory, '.tmp-1234-stall-1700000005000-inflight.json');
    await writeFile(temp, '{"hmac":"ab');
    const other = await runInOtherProcess(directory);
    expect(other.openError).toMatch(/is in use by another runlane-agent/);
    expect(other.pending).toEqual(['stall-1700000000000-mine.json']);
    // `spool status` beside a running writer: the writer's temp file is still there.
    await expect(stat(temp)).resolves.toBeDefined();
    await spool.close();
    // Released: the other process gets it now (and, holding the lock, removes the stale temp file).
    const after = await runInOtherProcess(directory);
    expect(after.openError).toBeUndefined();
    await expect(stat(temp)).rejects.toThrow();
  });

  it('a lock left by an agent that was killed (kill -9) is taken over at once', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', '-e', holdScript(directory)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await new Promise<void>((resolve) =>
      child.stdout.on('data', (chunk: Buffer) => chunk.toString().includes('held') && resolve()),
    );
    await expect(spoolWith().open()).rejects.toBeInstanceOf(SpoolLockedError);
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
    const spool = spoolWith();
    await spool.open();
    await spool.close();
  });
});

function holdScript(dir: string): string {
  return `
    const { OfflineSpool } = await import(${JSON.stringify(new URL('../../agent/spool/index.ts', import.meta.url).pathname)});
    const spool = new OfflineSpool({ directory: ${JSON.stringify(dir)}, maxBytes: 1000000 });
    await spool.open();
    console.log('held');
    setInterval(() => {}, 1 << 30);
  `;
}

/** Opens the spool in another process: what `pending()` lists, and why `open()` failed. */
async function runInOtherProcess(dir: string): Promise<{ pending: string[]; openError?: string }> {
  const script = `
    const { OfflineSpool } = await import(${JSON.stringify(new URL('../../agent/spool/index.ts', import.meta.url).pathname)});
    const spool = new OfflineSpool({ directory: ${JSON.stringify(dir)}, maxBytes: 1000000, lockWaitMs: 0 });
    const pending = (await spool.pending()).map((e) => e.fileName);
    let openError;
    try { await spool.open(); await spool.close(); } catch (error) { openError = error.message; }
    console.log(JSON.stringify({ pending, openError }));
  `;
  const child = spawn(process.execPath, ['--import', 'tsx', '-e', script], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => {
    out += chunk.toString();
  });
  await new Promise((resolve) => child.once('exit', resolve));
  return JSON.parse(out.trim()) as { pending: string[]; openError?: string };
}
