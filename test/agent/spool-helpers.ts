import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SpoolClock, SpoolDeliver, SpoolEntry } from '#agent/spool/index.js';

/** A fresh folder under the OS temp dir, and a function removing it. */
export async function tempSpoolDirectory(): Promise<{ directory: string; remove: () => Promise<void> }> {
  const root = await mkdtemp(join(tmpdir(), 'runlane-spool-'));
  return { directory: join(root, 'spool'), remove: () => rm(root, { recursive: true, force: true }) };
}

/** A clock the test moves by hand. */
export class ManualClock implements SpoolClock {
  public constructor(public time = 1_700_000_000_000) {}
  public now(): number {
    return this.time;
  }
  public advance(ms: number): void {
    this.time += ms;
  }
}

/**
 * A receiver that keeps every event it was sent, drops a resent id as a duplicate
 * (counting it), and accepts according to `accept`.
 */
export class RecordingReceiver {
  public readonly batches: string[][] = [];
  public readonly accepted = new Map<string, unknown>();
  public duplicates = 0;

  public constructor(public accept: (entry: SpoolEntry) => boolean = () => true) {}

  public readonly deliver: SpoolDeliver = async (entries) => {
    this.batches.push(entries.map((entry) => entry.id));
    const deliveredIds: string[] = [];
    for (const entry of entries) {
      if (!this.accept(entry)) continue;
      if (this.accepted.has(entry.id)) this.duplicates += 1;
      else this.accepted.set(entry.id, entry.body);
      deliveredIds.push(entry.id);
    }
    return { deliveredIds };
  };

  public get sent(): string[] {
    return this.batches.flat();
  }
}
