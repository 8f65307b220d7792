import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import * as z from 'zod';
import { CREATE_EXCLUSIVE } from '../runner/host-files.js';
import { parseProcStat } from '../runner/process-tree.js';

/**
 * The supervisor's pid file: its own pid and each child's pid with the child's start
 * time (`/proc/<pid>/stat` field 22, clock ticks since boot). A pid alone is not an
 * identity — pids are reused — so a process is "ours" only when both match.
 *
 * Why terminate orphans instead of adopting them: a restarted supervisor cannot wait()
 * for a process it did not spawn, nor read its output or apply its watchdog, so an adopted
 * child would be supervised in name only. Killing the old tree (SIGTERM, SIGKILL after the
 * child's grace) and starting a fresh one keeps exactly one instance of each child, fully
 * supervised.
 */

const entrySchema = z.object({ pid: z.number().int().positive(), startTime: z.string().min(1) });
const pidFileSchema = z.object({
  version: z.literal(1),
  supervisor: entrySchema,
  children: z.array(entrySchema.extend({ name: z.string().min(1) })),
});

export type PidFileContents = z.infer<typeof pidFileSchema>;

/** Start time of a live process (zombies are dead), from `/proc/<pid>/stat`; undefined when gone. */
export async function processStartTime(pid: number, procRoot = '/proc'): Promise<string | undefined> {
  try {
    const info = parseProcStat(await readFile(`${procRoot}/${pid}/stat`, 'utf8'));
    if (info === undefined || info.state === 'Z' || info.state === 'X') return undefined;
    return info.startTime;
  } catch {
    return undefined;
  }
}

/** Whether the process recorded as `entry` is still that process. */
export async function isSameProcess(
  entry: { readonly pid: number; readonly startTime: string },
  startTimeOf: (pid: number) => Promise<string | undefined> = processStartTime,
): Promise<boolean> {
  return (await startTimeOf(entry.pid)) === entry.startTime;
}

/** Reads and writes one pid file; writes are atomic (temporary file + rename) and never overlap. */
export class PidFile {
  private writing: Promise<void> = Promise.resolve();
  private pending: PidFileContents | undefined;

  public constructor(public readonly path: string) {}

  /** The recorded contents; undefined when there is no file. Throws when it is not a pid file. */
  public async read(): Promise<PidFileContents | undefined> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
    return pidFileSchema.parse(JSON.parse(text));
  }

  /** Records `contents`; a write in flight is followed by the newest contents only. */
  public write(contents: PidFileContents): Promise<void> {
    const first = this.pending === undefined;
    this.pending = contents;
    if (first) {
      this.writing = this.writing
        .catch(() => {})
        .then(async () => {
          const latest = this.pending;
          this.pending = undefined;
          if (latest !== undefined) await this.writeNow(latest);
        });
    }
    return this.writing;
  }

  /** Removes the file (after a clean shutdown: nothing of ours is left running). */
  public async remove(): Promise<void> {
    await this.writing.catch(() => {});
    await rm(this.path, { force: true });
  }

  private async writeNow(contents: PidFileContents): Promise<void> {
    await mkdir(dirname(this.path), { recursive: true, mode: 0o700 });
    const temporary = `${this.path}.${process.pid}.tmp`;
    // A new file (O_EXCL), never through a symbolic link: a leftover of a crashed writer with this pid is removed first.
    await rm(temporary, { force: true });
    const handle = await open(temporary, CREATE_EXCLUSIVE, 0o600);
    try {
      await handle.writeFile(`${JSON.stringify(contents)}\n`);
    } finally {
      await handle.close();
    }
    await rename(temporary, this.path);
  }
}
