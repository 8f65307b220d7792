import { readdir, readFile, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  decodeSpoolFile,
  encodeSpoolRecord,
  OfflineSpool,
  SpoolChecksumError,
  type SpoolRecord,
} from '#agent/spool/index.js';
import { ManualClock, RecordingReceiver, tempSpoolDirectory } from './spool-helpers.js';

const RECORD: SpoolRecord = {
  payloadType: 'stall',
  timestamp: 1_700_000_000_000,
  id: '6f1c2a40-0000-4000-8000-000000000001',
  body: { rootCause: 'network', evidence: ['connect ETIMEDOUT 10.0.0.1:443'], idleMs: 12_000, ok: false },
};
const FILE_NAME = `stall-1700000000000-${RECORD.id}.json`;
const KEY = Buffer.alloc(32, 7);

/** Deterministic PRNG (mulberry32), so a failure can be replayed. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

function flipBit(data: Uint8Array, bit: number): Buffer {
  const copy = Buffer.from(data);
  copy[bit >> 3] = (copy[bit >> 3] ?? 0) ^ (1 << (bit & 7));
  return copy;
}

describe('spool file checksum', () => {
  it('decodes an intact file', () => {
    expect(decodeSpoolFile(FILE_NAME, encodeSpoolRecord(RECORD, KEY), KEY)).toEqual(RECORD);
  });

  it('catches every single-bit flip anywhere in a file', () => {
    const data = encodeSpoolRecord(RECORD, KEY);
    const missed: number[] = [];
    for (let bit = 0; bit < data.length * 8; bit += 1) {
      try {
        decodeSpoolFile(FILE_NAME, flipBit(data, bit), KEY);
        missed.push(bit);
      } catch (error) {
        expect(error).toBeInstanceOf(SpoolChecksumError);
      }
    }
    expect(data.length * 8).toBeGreaterThan(2_000);
    expect(missed).toEqual([]);
  });

  it('catches every truncation, and any extra byte', () => {
    const data = encodeSpoolRecord(RECORD, KEY);
    for (let length = 0; length < data.length; length += 1) {
      expect(() => decodeSpoolFile(FILE_NAME, data.subarray(0, length), KEY), `length ${length}`).toThrow(
        SpoolChecksumError,
      );
    }
    expect(() => decodeSpoolFile(FILE_NAME, Buffer.concat([data, Buffer.from('\n')]), KEY)).toThrow(
      SpoolChecksumError,
    );
  });

  it('catches an intact file under another entry’s name (wrong id or timestamp)', () => {
    const data = encodeSpoolRecord(RECORD, KEY);
    expect(() => decodeSpoolFile('stall-1700000000001-x.json', data, KEY)).toThrow(
      /does not match its file name/,
    );
    expect(() => decodeSpoolFile(`run_summary-1700000000000-${RECORD.id}.json`, data, KEY)).toThrow(
      SpoolChecksumError,
    );
  });
});

describe('OfflineSpool quarantine', () => {
  let directory: string;
  let remove: () => Promise<void>;
  beforeEach(async () => {
    ({ directory, remove } = await tempSpoolDirectory());
  });
  afterEach(async () => {
    await remove();
  });

  it('quarantines bit-flipped, truncated and empty files, counts them, and carries on replaying', async () => {
    const clock = new ManualClock();
    const writer = new OfflineSpool({ directory, maxBytes: 10_000_000, clock });
    const names: string[] = [];
    for (let i = 0; i < 8; i += 1) {
      const id = `e${i}`;
      names.push(
        (await writer.write({ payloadType: 'stall', id, body: { id, text: 'y'.repeat(100) } })).fileName,
      );
      clock.advance(1_000);
    }
    const pathOf = (i: number) => join(directory, names[i] ?? '');
    await writeFile(pathOf(7), flipBit(await readFile(pathOf(7)), 700)); // newest: in the body
    await writeFile(pathOf(5), flipBit(await readFile(pathOf(5)), 100)); // in the checksum field
    await truncate(pathOf(4), 50);
    await truncate(pathOf(2), 0);
    await writeFile(pathOf(1), await readFile(pathOf(0))); // e0's intact bytes under e1's name
    const receiver = new RecordingReceiver();

    const spool = new OfflineSpool({ directory, maxBytes: 10_000_000, clock });
    const result = await spool.replay(receiver.deliver, { batchSize: 2 });

    expect(receiver.sent).toEqual(['e6', 'e3', 'e0']); // newest first, corrupt ones skipped
    expect(result).toEqual({ attempted: 3, delivered: 3, quarantined: 5, remaining: 0 });
    expect(spool.stats()).toMatchObject({ quarantined: 5, delivered: 3, files: 0, bytes: 0 });
    expect((await readdir(join(directory, 'quarantine'))).filter((n) => n.endsWith('.json')).sort()).toEqual(
      [names[1], names[2], names[4], names[5], names[7]].sort(),
    );
  });

  it('quarantines every one of 300 randomly bit-flipped or truncated files and delivers none of them', async () => {
    const clock = new ManualClock();
    const spool = new OfflineSpool({ directory, maxBytes: 10_000_000, clock });
    const next = random(6);
    for (let i = 0; i < 300; i += 1) {
      const id = `c${i}`;
      const { fileName } = await spool.write({
        payloadType: 'stall',
        id,
        body: { id, n: i, pad: 'z'.repeat(i) },
      });
      clock.advance(1);
      const path = join(directory, fileName);
      const data = await readFile(path);
      if (i % 3 === 0) await truncate(path, Math.floor(next() * data.length));
      else await writeFile(path, flipBit(data, Math.floor(next() * data.length * 8)));
    }
    const receiver = new RecordingReceiver();

    const result = await spool.replay(receiver.deliver);

    expect(receiver.sent).toEqual([]);
    expect(result).toEqual({ attempted: 0, delivered: 0, quarantined: 300, remaining: 0 });
    expect((await readdir(join(directory, 'quarantine'))).filter((n) => n.endsWith('.json'))).toHaveLength(
      300,
    );
  });
});
