import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  InvalidSpoolEntryError,
  InvalidSpoolOptionsError,
  nodeSpoolFileSystem,
  OfflineSpool,
  type ReplayResult,
  SpoolDiskFullError,
  SpoolEntryTooLargeError,
  type SpoolFileSystem,
  SpoolWriteError,
} from '#agent/spool/index.js';
import { ManualClock, RecordingReceiver, tempSpoolDirectory } from './spool-helpers.js';

let directory: string;
let remove: () => Promise<void>;
let clock: ManualClock;

beforeEach(async () => {
  ({ directory, remove } = await tempSpoolDirectory());
  clock = new ManualClock();
});
afterEach(async () => {
  await remove();
});

function spoolWith(options: { maxBytes?: number; fs?: SpoolFileSystem } = {}): OfflineSpool {
  return new OfflineSpool({ directory, maxBytes: options.maxBytes ?? 1_000_000, clock, ...options });
}

async function writeEvents(spool: OfflineSpool, ids: readonly string[]): Promise<void> {
  for (const id of ids) {
    await spool.write({ payloadType: 'stall', id, body: { id } });
    clock.advance(1_000);
  }
}

async function entryFiles(): Promise<string[]> {
  return (await readdir(directory)).filter((name) => name.endsWith('.json')).sort();
}

function enospc(syscall: string): Error {
  return Object.assign(new Error(`ENOSPC: no space left on device, ${syscall}`), {
    code: 'ENOSPC',
    errno: -28,
    syscall,
  });
}

describe('OfflineSpool write and read', () => {
  it('round-trips an event through a file named <payload_type>-<timestamp>-<id>.json', async () => {
    const spool = spoolWith();
    const body = { rootCause: 'io_wait', evidence: ['ENOSPC: no space left on device'], n: 1.5, ok: true };

    const info = await spool.write({ payloadType: 'stall', id: 'evt-0001', body });

    expect(info.fileName).toBe('stall-1700000000000-evt-0001.json');
    expect(await entryFiles()).toEqual(['stall-1700000000000-evt-0001.json']);
    const text = await readFile(join(directory, info.fileName), 'utf8');
    const parsed = JSON.parse(text) as { hmac: string; record: unknown };
    expect(parsed.hmac).toMatch(/^[0-9a-f]{64}$/);
    expect(parsed.record).toEqual({
      payloadType: 'stall',
      timestamp: 1_700_000_000_000,
      id: 'evt-0001',
      body,
    });
    const receiver = new RecordingReceiver();
    await spool.replay(receiver.deliver);
    expect(receiver.accepted.get('evt-0001')).toEqual(body);
  });

  it('zero-pads the timestamp so names sort by time, and keeps timestamps strictly increasing', async () => {
    clock.time = 42;
    const spool = spoolWith();

    const first = await spool.write({ payloadType: 'run_summary', id: 'a', body: 1 });
    const second = await spool.write({ payloadType: 'run_summary', id: 'b', body: 2 }); // same millisecond

    expect(first.fileName).toBe('run_summary-0000000000042-a.json');
    expect(second.fileName).toBe('run_summary-0000000000043-b.json');
  });

  it('lists pending entries newest first, also after re-opening the folder', async () => {
    const spool = spoolWith();
    await writeEvents(spool, ['e1', 'e2', 'e3']);

    expect((await spool.pending()).map((entry) => entry.id)).toEqual(['e3', 'e2', 'e1']);
    clock.time = 0; // a clock that went backwards still sorts new entries as newest
    const reopened = spoolWith();
    await reopened.write({ payloadType: 'stall', id: 'e4', body: {} });
    expect((await reopened.pending()).map((entry) => entry.id)).toEqual(['e4', 'e3', 'e2', 'e1']);
    expect(reopened.stats()).toMatchObject({ files: 4, spooled: 1 });
  });

  it('rejects payload types and ids that would make an ambiguous file name, without counting a write error', async () => {
    const spool = spoolWith();

    await expect(spool.write({ payloadType: 'run-summary', id: 'a', body: {} })).rejects.toThrow(
      InvalidSpoolEntryError,
    );
    await expect(spool.write({ payloadType: 'stall', id: '../x', body: {} })).rejects.toThrow(/id:/);
    await expect(spool.write({ payloadType: 'stall', id: 'a', body: undefined })).rejects.toThrow(
      /body: is undefined/,
    );
    expect(spool.stats().writeErrors).toBe(0);
    expect(() => new OfflineSpool({ directory: '', maxBytes: 0 })).toThrow(InvalidSpoolOptionsError);
    expect(() => new OfflineSpool({ directory: '', maxBytes: 0 })).toThrow(
      /directory must be.*maxBytes must be/,
    );
  });

  it('removes temp files of interrupted writes on open and leaves unrelated files alone', async () => {
    await writeEvents(spoolWith(), ['kept']);
    await writeFile(join(directory, '.tmp-1234-stall-1700000005000-torn.json'), '{"sha256":"ab');
    await writeFile(join(directory, 'README.txt'), 'not an entry');

    const spool = spoolWith();
    await spool.open();

    expect(spool.stats()).toMatchObject({ tempFilesRemoved: 1, files: 1 });
    expect((await readdir(directory)).filter((n) => !n.startsWith('.writer.')).sort()).toEqual([
      'README.txt',
      'stall-1700000000000-kept.json',
    ]);
  });
});

describe('OfflineSpool replay', () => {
  it('replays newest first, in batches', async () => {
    const spool = spoolWith();
    await writeEvents(spool, ['e1', 'e2', 'e3', 'e4', 'e5']);
    const receiver = new RecordingReceiver();

    const result = await spool.replay(receiver.deliver, { batchSize: 2 });

    expect(receiver.batches).toEqual([['e5', 'e4'], ['e3', 'e2'], ['e1']]);
    expect(result).toEqual({ attempted: 5, delivered: 5, quarantined: 0, remaining: 0 });
    expect(await entryFiles()).toEqual([]);
    expect(spool.stats()).toMatchObject({ spooled: 5, delivered: 5, files: 0, bytes: 0 });
  });

  it('deletes nothing while the receiver fails or accepts nothing, and everything once it accepts', async () => {
    const spool = spoolWith();
    await writeEvents(spool, ['e1', 'e2', 'e3']);
    const before = await entryFiles();

    const thrown = await spool.replay(async () => {
      throw new Error('bus unreachable');
    });
    const refused = await spool.replay(async () => ({ deliveredIds: [] }), { batchSize: 2 });

    expect(thrown).toMatchObject({ attempted: 3, delivered: 0, remaining: 3 });
    expect((thrown.error as Error).message).toBe('bus unreachable');
    expect(refused).toEqual({ attempted: 2, delivered: 0, quarantined: 0, remaining: 3 }); // stops after a refused batch
    expect(await entryFiles()).toEqual(before);
    const receiver = new RecordingReceiver();
    expect(await spool.replay(receiver.deliver)).toMatchObject({ delivered: 3, remaining: 0 });
    expect(await entryFiles()).toEqual([]);
  });

  it('on a partial acknowledgement removes only the delivered ids and keeps the rest for the next round', async () => {
    const spool = spoolWith();
    await writeEvents(spool, ['e1', 'e2', 'e3', 'e4']);
    // like PutEvents with FailedEntryCount > 0: only entries that got an event id count as delivered
    const receiver = new RecordingReceiver((entry) => entry.id === 'e4' || entry.id === 'e2');

    const first = await spool.replay(receiver.deliver);

    expect(first).toEqual({ attempted: 4, delivered: 2, quarantined: 0, remaining: 2 });
    expect((await spool.pending()).map((entry) => entry.id)).toEqual(['e3', 'e1']);
    receiver.accept = () => true;
    const second = await spool.replay(receiver.deliver);
    expect(second).toMatchObject({ attempted: 2, delivered: 2, remaining: 0 });
    expect(receiver.batches).toEqual([
      ['e4', 'e3', 'e2', 'e1'],
      ['e3', 'e1'],
    ]);
    expect(receiver.duplicates).toBe(0);
  });

  it('a crash after the acknowledgement but before the delete causes one resend with the same id (deliver acks, then throws)', async () => {
    const spool = spoolWith();
    await writeEvents(spool, ['e1']);
    const receiver = new RecordingReceiver();
    const crashing = async (entries: Parameters<typeof receiver.deliver>[0]) => {
      await receiver.deliver(entries); // the receiver took it...
      throw new Error('process died before the delete'); // ...but the spool never heard
    };

    const first = await spool.replay(crashing);
    const second = await spool.replay(receiver.deliver);
    const third = await spool.replay(receiver.deliver);

    expect(first).toMatchObject({ delivered: 0, remaining: 1 });
    expect(second).toMatchObject({ attempted: 1, delivered: 1, remaining: 0 });
    expect(third).toMatchObject({ attempted: 0 });
    expect(receiver.sent).toEqual(['e1', 'e1']); // at most one resend, same id
    expect(receiver.duplicates).toBe(1); // which the receiver drops
    expect([...receiver.accepted.keys()]).toEqual(['e1']);
  });

  it('a crash between the acknowledgement and the delete (failing unlink, then a re-opened spool) resends once', async () => {
    await writeEvents(spoolWith(), ['e1', 'e2']);
    const crashingFs: SpoolFileSystem = {
      ...nodeSpoolFileSystem,
      unlink: async () => {
        throw Object.assign(new Error('EIO: i/o error, unlink'), { code: 'EIO' });
      },
    };
    const receiver = new RecordingReceiver();

    const first = await spoolWith({ fs: crashingFs }).replay(receiver.deliver);
    const afterRestart = await spoolWith().replay(receiver.deliver);

    expect(first).toMatchObject({ attempted: 2, delivered: 0, remaining: 2 });
    expect(afterRestart).toMatchObject({ attempted: 2, delivered: 2, remaining: 0 });
    expect(receiver.sent).toEqual(['e2', 'e1', 'e2', 'e1']);
    expect(receiver.duplicates).toBe(2); // one resend per event, each dropped by id
    expect(await entryFiles()).toEqual([]);
  });

  it('runs rounds in a background loop until the receiver accepts, then stops cleanly', async () => {
    const spool = spoolWith();
    await writeEvents(spool, ['e1', 'e2', 'e3']);
    let calls = 0;
    const receiver = new RecordingReceiver();
    const rounds: ReplayResult[] = [];
    let drained!: () => void;
    const done = new Promise<void>((resolve) => {
      drained = resolve;
    });

    const loop = spool.startReplayLoop({
      intervalMs: 1,
      batchSize: 10,
      deliver: async (entries) => {
        calls += 1;
        if (calls <= 2) throw new Error(`outage ${calls}`);
        return receiver.deliver(entries);
      },
      onRound: (result) => {
        rounds.push(result);
        if (result.remaining === 0) drained();
      },
    });
    await done;
    await loop.stop();

    expect(rounds.slice(0, 3).map((round) => round.delivered)).toEqual([0, 0, 3]);
    expect(rounds.slice(0, 2).map((round) => (round.error as Error).message)).toEqual([
      'outage 1',
      'outage 2',
    ]);
    expect(receiver.sent).toEqual(['e3', 'e2', 'e1']);
    expect(spool.stats()).toMatchObject({ delivered: 3, files: 0 });
  });
});

describe('OfflineSpool concurrency', () => {
  it('keeps every event exactly once when writes, evictions and replay rounds interleave', async () => {
    const spool = spoolWith({ maxBytes: 20_000 });
    const receiver = new RecordingReceiver();
    const ids = Array.from({ length: 200 }, (_, i) => `c${i}`);

    const writes = ids.map((id) =>
      spool.write({ payloadType: 'stall', id, body: { id, pad: 'p'.repeat(150) } }),
    );
    const rounds = [spool.replay(receiver.deliver, { batchSize: 3 }), spool.replay(receiver.deliver)];
    await Promise.all(writes);
    await Promise.all(rounds);
    await spool.replay(receiver.deliver);

    const { spooled, delivered, evicted, files, bytes } = spool.stats();
    expect(receiver.duplicates).toBe(0);
    expect(spooled).toBe(200);
    expect(delivered).toBe(receiver.accepted.size);
    expect(delivered + evicted).toBeGreaterThanOrEqual(200); // an entry acked while being evicted counts in both
    expect({ files, bytes }).toEqual({ files: 0, bytes: 0 });
    expect(await entryFiles()).toEqual([]);
  });

  it('reports a round that fails outside deliver to onError and keeps looping', async () => {
    let unreadable = true;
    const flakyFs: SpoolFileSystem = {
      ...nodeSpoolFileSystem,
      readdir: async (path) => {
        if (unreadable)
          throw Object.assign(new Error('EACCES: permission denied, scandir'), { code: 'EACCES' });
        return nodeSpoolFileSystem.readdir(path);
      },
    };
    await writeEvents(spoolWith(), ['e1']);
    const spool = spoolWith({ fs: flakyFs });
    const errors: unknown[] = [];
    const receiver = new RecordingReceiver();
    let drained!: () => void;
    const done = new Promise<void>((resolve) => {
      drained = resolve;
    });

    const loop = spool.startReplayLoop({
      intervalMs: 1,
      deliver: receiver.deliver,
      onError: (error) => {
        errors.push(error);
        unreadable = false;
      },
      onRound: (result) => {
        if (result.delivered > 0) drained();
      },
    });
    await done;
    await loop.stop();

    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ code: 'EACCES' });
    expect(receiver.sent).toEqual(['e1']);
  });
});

describe('OfflineSpool size bound', () => {
  it('stays under maxBytes by evicting the oldest entries, and counts them', async () => {
    const probe = spoolWith();
    const { bytes } = await probe.write({ payloadType: 'stall', id: 'e00', body: { id: 'e00' } });
    await probe.replay(new RecordingReceiver().deliver);
    const spool = spoolWith({ maxBytes: bytes * 3 + 1 });
    const ids = Array.from({ length: 10 }, (_, i) => `e${String(i).padStart(2, '0')}`);

    await writeEvents(spool, ids);

    expect((await spool.pending()).map((entry) => entry.id)).toEqual(['e09', 'e08', 'e07']);
    expect(spool.stats()).toMatchObject({ spooled: 10, evicted: 7, files: 3, bytes: bytes * 3 });
    const onDisk = await Promise.all((await entryFiles()).map((name) => readFile(join(directory, name))));
    expect(onDisk.reduce((sum, data) => sum + data.length, 0)).toBeLessThanOrEqual(bytes * 3 + 1);
  });

  it('reports an entry larger than the whole bound as a counted write error and keeps the spool intact', async () => {
    const spool = spoolWith({ maxBytes: 400 });
    await writeEvents(spool, ['small']);

    const error = await spool
      .write({ payloadType: 'stall', id: 'big', body: 'x'.repeat(1_000) })
      .catch((e) => e);

    expect(error).toBeInstanceOf(SpoolEntryTooLargeError);
    expect(error).toBeInstanceOf(SpoolWriteError);
    expect(spool.stats()).toMatchObject({ writeErrors: 1, evicted: 0, files: 1 });
  });
});

describe('OfflineSpool disk errors', () => {
  for (const stage of ['writeFile', 'sync', 'rename'] as const) {
    it(`reports ENOSPC during ${stage} (simulated with an injected fs) as a counted SpoolDiskFullError, not a crash`, async () => {
      let diskFull = true;
      const fullDisk: SpoolFileSystem = {
        ...nodeSpoolFileSystem,
        open: async (path, flags) => {
          const handle = await nodeSpoolFileSystem.open(path, flags);
          if (flags !== 'wx') return handle;
          return {
            writeFile: async (data) => {
              if (diskFull && stage === 'writeFile') throw enospc('write');
              await handle.writeFile(data);
            },
            sync: async () => {
              if (diskFull && stage === 'sync') throw enospc('fsync');
              await handle.sync();
            },
            close: () => handle.close(),
          };
        },
        rename: async (from, to) => {
          if (diskFull && stage === 'rename') throw enospc('rename');
          await nodeSpoolFileSystem.rename(from, to);
        },
      };
      const spool = spoolWith({ fs: fullDisk });

      const error = await spool.write({ payloadType: 'stall', id: 'lost', body: {} }).catch((e) => e);

      expect(error).toBeInstanceOf(SpoolDiskFullError);
      expect(error).toBeInstanceOf(SpoolWriteError);
      expect(error).toMatchObject({ name: 'SpoolDiskFullError', code: 'ENOSPC' });
      expect((error as Error).cause).toMatchObject({ code: 'ENOSPC' });
      expect(spool.stats()).toMatchObject({ writeErrors: 1, spooled: 0, files: 0 });
      expect((await readdir(directory)).filter((n) => !n.startsWith('.writer.'))).toEqual([]); // no temp file left behind
      diskFull = false; // space is back: the same spool keeps working
      await spool.write({ payloadType: 'stall', id: 'kept', body: {} });
      expect(spool.stats()).toMatchObject({ writeErrors: 1, spooled: 1, files: 1 });
    });
  }
});
