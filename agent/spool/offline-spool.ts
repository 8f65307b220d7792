import { randomUUID } from 'node:crypto';
import { join, resolve } from 'node:path';
import {
  errnoCode,
  InvalidSpoolEntryError,
  InvalidSpoolOptionsError,
  SpoolChecksumError,
  SpoolDiskFullError,
  SpoolEntryTooLargeError,
  SpoolError,
  SpoolWriteError,
} from './errors.js';
import { nodeSpoolFileSystem, type SpoolFileHandle, type SpoolFileSystem } from './file-system.js';
import { ReplayLoop } from './replay-loop.js';
import {
  checkNameParts,
  decodeSpoolFile,
  encodeSpoolRecord,
  formatSpoolFileName,
  parseSpoolFileName,
} from './spool-file.js';
import type {
  OfflineSpoolOptions,
  ReplayLoopOptions,
  ReplayOptions,
  ReplayResult,
  SpoolClock,
  SpoolDeliver,
  SpoolEntry,
  SpoolEntryInfo,
  SpoolStats,
  SpoolWriteInput,
} from './types.js';

/** Temp files of in-progress writes; the leading dot keeps them out of the entry name pattern. */
const TEMP_PREFIX = '.tmp-';
const QUARANTINE_FOLDER = 'quarantine';
const DEFAULT_BATCH_SIZE = 10;
/** Directory fsync is not supported everywhere (Windows); there the rename alone has to do. */
const DIRECTORY_SYNC_UNSUPPORTED = new Set(['EISDIR', 'EINVAL', 'EPERM', 'ENOTSUP', 'EBADF']);
const DISK_FULL = new Set(['ENOSPC', 'EDQUOT']);

/**
 * Offline spool for events the receiver could not take (seed 004's offline mode, issue 6).
 *
 * - **Atomic writes**: temp file, fsync, rename to `<payloadType>-<timestamp>-<id>.json`,
 *   fsync of the folder. A crash (even `kill -9`) mid-write leaves at most a `.tmp-*`
 *   file, removed when the spool is next opened, never a torn entry.
 * - **Checksum in every file** (SHA-256 of the record): a file that fails it is moved to
 *   `quarantine/`, counted, and replay carries on.
 * - **Newest first**: replay hands entries to `deliver` newest first, in batches, and
 *   deletes an entry only once `deliver` reports its id as accepted. A crash between the
 *   acknowledgement and the delete means one resend with the same id, which the receiver
 *   drops as a duplicate.
 * - **Bounded**: total file size stays under `maxBytes`; the oldest entries are evicted
 *   (and counted) to make room.
 * - **Disk errors are reported, not crashed on**: a failed write rejects with
 *   `SpoolWriteError` (`SpoolDiskFullError` for ENOSPC) and counts in `stats().writeErrors`.
 *
 * One instance owns a folder; writes are serialized, replay rounds never overlap.
 * The folder is scanned on first use (or `open()`).
 *
 * @example
 * const spool = new OfflineSpool({ directory: '/var/lib/runlane-agent/spool', maxBytes: 50 * 1024 * 1024 });
 * try {
 *   await bus.put(event);
 * } catch {
 *   await spool.write({ payloadType: 'stall', id: event.id, body: event }).catch((error) => {
 *     if (error instanceof SpoolWriteError) metrics.spoolWriteErrors.inc(); // the event is lost; keep running
 *     else throw error;
 *   });
 * }
 * const loop = spool.startReplayLoop({
 *   intervalMs: 5_000,
 *   deliver: async (entries) => ({ deliveredIds: await bus.putAll(entries.map((entry) => entry.body)) }),
 * });
 * // on shutdown
 * await loop.stop();
 */
export class OfflineSpool {
  /** Absolute path of the spool folder. */
  public readonly directory: string;
  private readonly quarantineDirectory: string;
  private readonly maxBytes: number;
  private readonly clock: SpoolClock;
  private readonly fs: SpoolFileSystem;
  /** Spooled files, oldest first: filled sorted from disk, then appended with increasing timestamps. */
  private readonly index = new Map<string, SpoolEntryInfo>();
  private bytes = 0;
  private lastTimestamp = -1;
  private opening: Promise<void> | undefined;
  private quarantineReady = false;
  private writeChain: Promise<unknown> = Promise.resolve();
  private replayChain: Promise<unknown> = Promise.resolve();
  private readonly counters = {
    spooled: 0,
    delivered: 0,
    quarantined: 0,
    evicted: 0,
    writeErrors: 0,
    tempFilesRemoved: 0,
  };

  public constructor(options: OfflineSpoolOptions) {
    const problems: string[] = [];
    if (typeof options.directory !== 'string' || options.directory.length === 0) {
      problems.push('directory must be a non-empty path');
    }
    if (!Number.isSafeInteger(options.maxBytes) || options.maxBytes <= 0) {
      problems.push(`maxBytes must be a positive integer, got ${options.maxBytes}`);
    }
    if (problems.length > 0) throw new InvalidSpoolOptionsError(problems);
    this.directory = resolve(options.directory);
    this.quarantineDirectory = join(this.directory, QUARANTINE_FOLDER);
    this.maxBytes = options.maxBytes;
    this.clock = options.clock ?? Date;
    this.fs = options.fs ?? nodeSpoolFileSystem;
  }

  /**
   * Creates the folder if needed, removes temp files of interrupted writes and indexes
   * the spooled files. Called by every other method; call it to fail early.
   */
  public open(): Promise<void> {
    this.opening ??= this.load().catch((error: unknown) => {
      this.opening = undefined;
      throw error;
    });
    return this.opening;
  }

  /**
   * Spools one event durably (it is on disk when the promise resolves), evicting the
   * oldest entries if the bound requires it.
   *
   * @throws InvalidSpoolEntryError when the payload type, id or body cannot be spooled (not counted).
   * @throws SpoolWriteError (`SpoolDiskFullError` on ENOSPC, `SpoolEntryTooLargeError` over the bound)
   *   when the event could not be written; counted in `stats().writeErrors`.
   */
  public write(input: SpoolWriteInput): Promise<SpoolEntryInfo> {
    const run = this.writeChain.then(() => this.writeOne(input));
    this.writeChain = run.catch(() => undefined);
    return run;
  }

  /** Spooled entries, newest first (listed, not verified: `replay` verifies). */
  public async pending(): Promise<SpoolEntryInfo[]> {
    await this.open();
    return [...this.index.values()].reverse();
  }

  /**
   * One replay round: verifies entries newest first, hands them to `deliver` in batches,
   * deletes those whose ids `deliver` returns. Corrupt files are quarantined and skipped.
   * The round ends when everything was tried, when `deliver` throws (reported as
   * `result.error`, not rethrown) or when a batch gets no acknowledgement at all.
   */
  public replay(deliver: SpoolDeliver, options: ReplayOptions = {}): Promise<ReplayResult> {
    const batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;
    if (!Number.isSafeInteger(batchSize) || batchSize <= 0) {
      return Promise.reject(
        new InvalidSpoolOptionsError([`batchSize must be a positive integer, got ${batchSize}`]),
      );
    }
    const run = this.replayChain.then(() => this.replayRound(deliver, batchSize));
    this.replayChain = run.catch(() => undefined);
    return run;
  }

  /**
   * Starts a background loop of `replay` rounds, `intervalMs` apart.
   *
   * @example
   * const loop = spool.startReplayLoop({ intervalMs: 5_000, deliver, onRound: (r) => log.debug(r) });
   * await loop.stop();
   */
  public startReplayLoop(options: ReplayLoopOptions): ReplayLoop {
    if (!Number.isFinite(options.intervalMs) || options.intervalMs < 0) {
      throw new InvalidSpoolOptionsError([
        `intervalMs must be a non-negative number, got ${options.intervalMs}`,
      ]);
    }
    return new ReplayLoop(this, options).start();
  }

  /** Counters since this instance was created, and the spool's current size. */
  public stats(): SpoolStats {
    return { ...this.counters, bytes: this.bytes, files: this.index.size };
  }

  private async load(): Promise<void> {
    await this.fs.mkdir(this.directory);
    const found: SpoolEntryInfo[] = [];
    for (const fileName of await this.fs.readdir(this.directory)) {
      const path = join(this.directory, fileName);
      if (fileName.startsWith(TEMP_PREFIX)) {
        await this.unlinkIfPresent(path);
        this.counters.tempFilesRemoved += 1;
        continue;
      }
      const name = parseSpoolFileName(fileName);
      if (!name) continue;
      try {
        const stat = await this.fs.stat(path);
        if (stat.isFile()) found.push({ fileName, ...name, bytes: stat.size });
      } catch (error) {
        if (errnoCode(error) !== 'ENOENT') throw error;
      }
    }
    found.sort((a, b) => a.timestamp - b.timestamp || (a.fileName < b.fileName ? -1 : 1));
    for (const info of found) {
      this.index.set(info.fileName, info);
      this.bytes += info.bytes;
      this.lastTimestamp = Math.max(this.lastTimestamp, info.timestamp);
    }
  }

  private async writeOne(input: SpoolWriteInput): Promise<SpoolEntryInfo> {
    checkNameParts(input.payloadType, input.id);
    if (input.body === undefined) throw new InvalidSpoolEntryError('body', 'is undefined');
    await this.open();
    // Strictly increasing, so newest-first order is exact even within one millisecond.
    const timestamp = Math.max(Math.trunc(this.clock.now()), this.lastTimestamp + 1);
    const fileName = formatSpoolFileName({ payloadType: input.payloadType, timestamp, id: input.id });
    let data: Buffer;
    try {
      data = encodeSpoolRecord({ payloadType: input.payloadType, timestamp, id: input.id, body: input.body });
    } catch (error) {
      throw new InvalidSpoolEntryError('body', `is not JSON-serializable: ${String(error)}`);
    }
    if (data.length > this.maxBytes) {
      this.counters.writeErrors += 1;
      throw new SpoolEntryTooLargeError(fileName, data.length, this.maxBytes);
    }
    try {
      await this.evictFor(data.length);
      await this.writeAtomically(fileName, data);
    } catch (error) {
      this.counters.writeErrors += 1;
      const code = errnoCode(error);
      if (code !== undefined && DISK_FULL.has(code)) throw new SpoolDiskFullError(fileName, { cause: error });
      throw new SpoolWriteError(fileName, error instanceof Error ? error.message : String(error), {
        cause: error,
      });
    }
    const info: SpoolEntryInfo = {
      fileName,
      payloadType: input.payloadType,
      timestamp,
      id: input.id,
      bytes: data.length,
    };
    this.lastTimestamp = timestamp;
    this.index.set(fileName, info);
    this.bytes += data.length;
    this.counters.spooled += 1;
    return info;
  }

  private async evictFor(size: number): Promise<void> {
    for (const oldest of this.index.values()) {
      if (this.bytes + size <= this.maxBytes) return;
      this.forget(oldest);
      this.counters.evicted += 1;
      await this.unlinkIfPresent(join(this.directory, oldest.fileName));
    }
  }

  private async writeAtomically(fileName: string, data: Buffer): Promise<void> {
    const finalPath = join(this.directory, fileName);
    const tempPath = join(this.directory, `${TEMP_PREFIX}${randomUUID()}-${fileName}`);
    let handle: SpoolFileHandle | undefined;
    let renamed = false;
    try {
      handle = await this.fs.open(tempPath, 'wx');
      await handle.writeFile(data);
      await handle.sync();
      const closing = handle;
      handle = undefined;
      await closing.close();
      await this.fs.rename(tempPath, finalPath);
      renamed = true;
      await this.syncDirectory();
    } catch (error) {
      await handle?.close().catch(() => undefined);
      // Best effort: whatever is left is a temp file (removed on next open) or a complete entry.
      await this.fs.unlink(renamed ? finalPath : tempPath).catch(() => undefined);
      throw error;
    }
  }

  private async syncDirectory(): Promise<void> {
    let handle: SpoolFileHandle;
    try {
      handle = await this.fs.open(this.directory, 'r');
    } catch (error) {
      if (DIRECTORY_SYNC_UNSUPPORTED.has(errnoCode(error) ?? '')) return;
      throw error;
    }
    try {
      await handle.sync();
    } catch (error) {
      if (!DIRECTORY_SYNC_UNSUPPORTED.has(errnoCode(error) ?? '')) throw error;
    } finally {
      await handle.close();
    }
  }

  private async replayRound(deliver: SpoolDeliver, batchSize: number): Promise<ReplayResult> {
    await this.open();
    const quarantinedBefore = this.counters.quarantined;
    const newestFirst = [...this.index.values()].reverse();
    let attempted = 0;
    let delivered = 0;
    let failure: { error: unknown } | undefined;
    let next = 0;
    while (next < newestFirst.length && failure === undefined) {
      const batch: SpoolEntry[] = [];
      while (batch.length < batchSize && next < newestFirst.length) {
        const info = newestFirst[next++];
        if (info === undefined || !this.index.has(info.fileName)) continue; // evicted meanwhile
        const entry = await this.readVerified(info);
        if (entry) batch.push(entry);
      }
      if (batch.length === 0) break;
      attempted += batch.length;
      let accepted: ReadonlySet<string>;
      try {
        const ack = await deliver(batch);
        if (!Array.isArray(ack?.deliveredIds)) throw new SpoolError('deliver resolved without deliveredIds');
        accepted = new Set(ack.deliveredIds);
      } catch (error) {
        failure = { error };
        break;
      }
      let acknowledged = 0;
      for (const entry of batch) {
        if (!accepted.has(entry.id)) continue;
        acknowledged += 1;
        try {
          await this.deleteDelivered(entry);
          delivered += 1;
        } catch (error) {
          // Kept: the next round resends it and the receiver drops the duplicate by id.
          failure = { error };
        }
      }
      if (acknowledged === 0) break; // the receiver takes nothing now; try again next round
    }
    return {
      attempted,
      delivered,
      quarantined: this.counters.quarantined - quarantinedBefore,
      remaining: this.index.size,
      ...failure,
    };
  }

  private async readVerified(info: SpoolEntryInfo): Promise<SpoolEntry | undefined> {
    const path = join(this.directory, info.fileName);
    let problem: SpoolChecksumError;
    try {
      const record = decodeSpoolFile(info.fileName, await this.fs.readFile(path));
      return { ...info, body: record.body };
    } catch (error) {
      if (errnoCode(error) === 'ENOENT') {
        this.forget(info);
        return undefined;
      }
      problem =
        error instanceof SpoolChecksumError
          ? error
          : new SpoolChecksumError(info.fileName, 'unreadable', { cause: error });
    }
    await this.quarantine(info, problem);
    return undefined;
  }

  private async quarantine(info: SpoolEntryInfo, problem: SpoolChecksumError): Promise<void> {
    if (!this.quarantineReady) {
      await this.fs.mkdir(this.quarantineDirectory);
      this.quarantineReady = true;
    }
    try {
      await this.fs.rename(
        join(this.directory, info.fileName),
        join(this.quarantineDirectory, info.fileName),
      );
    } catch (error) {
      if (errnoCode(error) !== 'ENOENT')
        throw new SpoolError(`cannot quarantine: ${problem.message}`, { cause: error });
    }
    this.forget(info);
    this.counters.quarantined += 1;
  }

  private async deleteDelivered(entry: SpoolEntryInfo): Promise<void> {
    await this.unlinkIfPresent(join(this.directory, entry.fileName));
    this.forget(entry);
    this.counters.delivered += 1;
  }

  private forget(info: SpoolEntryInfo): void {
    if (this.index.delete(info.fileName)) this.bytes -= info.bytes;
  }

  private async unlinkIfPresent(path: string): Promise<void> {
    try {
      await this.fs.unlink(path);
    } catch (error) {
      if (errnoCode(error) !== 'ENOENT') throw error;
    }
  }
}
