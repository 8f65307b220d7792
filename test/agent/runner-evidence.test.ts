import { appendFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EvidenceWriteError } from '#agent/errors.js';
import { EvidenceWriter } from '#agent/runner/evidence.js';
import { parseEvidence, readEvidence } from '#common/runner-evidence.js';
import type { RunnerStallEvent } from '#contracts/agent-events.js';

const event = (n: number): RunnerStallEvent => ({
  id: `00000000-0000-4000-8000-00000000000${n}`,
  ts: '2026-01-02T03:04:05.000Z',
  host: 'h1',
  environment: 'prod',
  commandType: 'build',
  rootCause: 'network',
  idleMs: 12_000,
  hardMs: 45_000,
  elapsedMs: 12_010,
  timeout: 'idle',
  pid: 4242,
  evidence: ['Error: read ECONNRESET'],
});

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'runner-evidence-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('evidence file', () => {
  it('appends one JSON line per event, creating the folder, and reads them back', async () => {
    const file = join(dir, 'evidence/runner/stall-events.jsonl');
    const writer = new EvidenceWriter(file);
    await writer.append(event(1));
    await writer.append(event(2));
    const text = await readFile(file, 'utf8');
    expect(text.split('\n')).toHaveLength(3);
    expect(JSON.parse(text.split('\n')[0] ?? '')).toEqual(event(1));
    expect(await readEvidence(file)).toEqual({
      events: [event(1), event(2)],
      invalidLines: 0,
      tornTail: false,
    });
  });

  it('a torn last line (crash mid-write) is not read back as an event', async () => {
    const file = join(dir, 'stall-events.jsonl');
    const full = JSON.stringify(event(2));
    await writeFile(file, `${JSON.stringify(event(1))}\n${full.slice(0, full.length - 1)}`);
    const result = await readEvidence(file);
    expect(result.events).toEqual([event(1)]);
    expect(result.tornTail).toBe(true);
    // Even a cut that leaves valid JSON (the line without its newline) is not an event yet.
    expect(parseEvidence(`${full}`).events).toEqual([]);
  });

  it('the next append closes off a torn line, so it never swallows the new event', async () => {
    const file = join(dir, 'stall-events.jsonl');
    const writer = new EvidenceWriter(file);
    await writer.append(event(1));
    await appendFile(file, JSON.stringify(event(2)).slice(0, 40));
    await writer.append(event(3));
    expect(await readEvidence(file)).toEqual({
      events: [event(1), event(3)],
      invalidLines: 1,
      tornTail: false,
    });
  });

  it('a missing file has no events; an invalid event is refused before it is written', async () => {
    expect((await readEvidence(join(dir, 'none.jsonl'))).events).toEqual([]);
    const file = join(dir, 'x.jsonl');
    await expect(
      new EvidenceWriter(file).append({ ...event(1), rootCause: 'gremlins' as 'lock' }),
    ).rejects.toThrow();
    expect((await readEvidence(file)).events).toEqual([]);
  });

  it('a write failure is an EvidenceWriteError naming the file, with the cause kept', async () => {
    const blocker = join(dir, 'not-a-dir');
    await writeFile(blocker, '');
    const error = await new EvidenceWriter(join(blocker, 'events.jsonl'))
      .append(event(1))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EvidenceWriteError);
    expect((error as Error).message).toContain('not-a-dir');
    expect((error as Error).cause).toMatchObject({ code: expect.stringMatching(/ENOTDIR|EEXIST/) });
  });
});
