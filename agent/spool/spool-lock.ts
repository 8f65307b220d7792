import { readFileSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { HostFileError } from '../errors.js';
import { parseProcStat } from '../runner/process-tree.js';
import { errnoCode } from './errors.js';

/** Inside the spool folder: the lock (a folder, proper-lockfile's) and who holds it. */
const LOCK_NAME = '.writer.lock';
const OWNER_NAME = '.writer.pid';

/** Another agent holds the spool folder's writer lock: one agent per spool. */
export class SpoolLockedError extends HostFileError {
  public constructor(directory: string, options?: ErrorOptions) {
    super(
      directory,
      `is in use by another runlane-agent (lock ${join(directory, LOCK_NAME)}): give each agent its own spool folder`,
      options,
    );
    this.name = 'SpoolLockedError';
  }
}

export interface SpoolLockOptions {
  /** The lock counts as abandoned when not refreshed for this long (proper-lockfile's `stale`, at least 2000). */
  readonly staleMs: number;
  /** How long to wait for a held lock before giving up (SpoolLockedError). */
  readonly waitMs: number;
  /** The lock could not be refreshed and may now be someone else's. */
  readonly onCompromised: (error: Error) => void;
}

type Held = { holders: number; release: () => Promise<void> };

/** Locks this process holds, by folder: several spool instances of one process share one lock. */
const held = new Map<string, Promise<Held>>();

/**
 * Takes the writer lock of a spool folder (proper-lockfile: an atomic mkdir of
 * `<folder>/.writer.lock`, refreshed while held, removed on exit), so two agents never share
 * one spool. The holder's pid and start time are kept next to it: a lock left by a process
 * that is gone (kill -9) is taken over at once instead of after `staleMs`. Resolves with the
 * release function; rejects with {@link SpoolLockedError} after `waitMs` when another live
 * agent holds it.
 */
export async function lockSpoolDirectory(
  directory: string,
  options: SpoolLockOptions,
): Promise<() => Promise<void>> {
  let entry = held.get(directory);
  if (entry === undefined) {
    entry = acquire(directory, options).then((release) => ({ holders: 0, release }));
    held.set(directory, entry);
    entry.catch(() => held.delete(directory));
  }
  const lock = await entry;
  lock.holders += 1;
  let released = false;
  return async () => {
    if (released) return;
    released = true;
    lock.holders -= 1;
    if (lock.holders > 0) return;
    held.delete(directory);
    await rm(join(directory, OWNER_NAME), { force: true });
    await lock.release().catch(() => undefined);
  };
}

async function acquire(directory: string, options: SpoolLockOptions): Promise<() => Promise<void>> {
  const { lock } = (await import('proper-lockfile')).default;
  const lockfilePath = join(directory, LOCK_NAME);
  const attempt = () =>
    lock(directory, {
      lockfilePath,
      realpath: false,
      stale: Math.max(2_000, options.staleMs),
      onCompromised: options.onCompromised,
    });
  const deadline = Date.now() + options.waitMs;
  for (let tookOver = false; ; ) {
    try {
      const release = await attempt();
      // Best effort (a full disk): without it, a lock left by a kill -9 waits to go stale instead.
      await writeFile(join(directory, OWNER_NAME), `${process.pid} ${ownStartTime() ?? ''}\n`, {
        mode: 0o600,
      }).catch(() => undefined);
      return release;
    } catch (error) {
      if (errnoCode(error) !== 'ELOCKED') throw error;
      if (!tookOver && (await ownerIsGone(directory))) {
        // Its holder died without releasing it (kill -9): take it over once, now.
        tookOver = true;
        await rm(lockfilePath, { recursive: true, force: true });
        continue;
      }
      if (Date.now() >= deadline) throw new SpoolLockedError(directory, { cause: error });
      await new Promise((resolve) => setTimeout(resolve, Math.min(500, Math.max(1, deadline - Date.now()))));
    }
  }
}

/** The recorded holder is no longer running (or its pid now belongs to another process). */
async function ownerIsGone(directory: string): Promise<boolean> {
  let text: string;
  try {
    text = await readFile(join(directory, OWNER_NAME), 'utf8');
  } catch {
    return false; // no record (killed before writing it): wait for the lock to go stale
  }
  const [pidText, startTime] = text.trim().split(' ');
  const pid = Number(pidText);
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  if (pid === process.pid) return false;
  try {
    process.kill(pid, 0);
  } catch (error) {
    return errnoCode(error) === 'ESRCH';
  }
  const current = startTimeOf(pid);
  return startTime !== undefined && startTime !== '' && current !== undefined && current !== startTime;
}

function ownStartTime(): string | undefined {
  return startTimeOf(process.pid);
}

function startTimeOf(pid: number): string | undefined {
  try {
    return parseProcStat(readFileSync(`/proc/${pid}/stat`, 'utf8'))?.startTime;
  } catch {
    return undefined;
  }
}
