import { randomUUID } from 'node:crypto';
import { basename, dirname, join, resolve } from 'node:path';
import { appendNoFollow, ensurePrivateDirectory } from '../runner/host-files.js';
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
  type SpoolRecord,
} from './spool-file.js';
import { loadSpoolKey } from './spool-key.js';
import { lockSpoolDirectory } from './spool-lock.js';
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
/** One JSON line per quarantined file in the quarantine folder: which file, why. */
const QUARANTINE_REASONS = 'reasons.jsonl';
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
 * - **Authenticated entries** (issue 18): an HMAC-SHA256 of the record with the spool's key
 *   (`<state folder>/<spool>.key`, 0600, made at first start) in every file. A file that fails
 *   it — corrupt, altered, or planted by someone without the key, even with a checksum of its
 *   own — or that is a link or another user's file, is moved to `quarantine/` with its reason
 *   (`quarantine/reasons.jsonl`), counted, never sent; replay carries on.
 * - **Private and locked**: the folder is made 0700 and refused (HostFileError) unless it is
 *   the agent user's own with no group/other access; one agent per folder (a writer lock,
 *   proper-lockfile). Files are created O_EXCL and never through a symbolic link.
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
 * The folder is locked and scanned on the first write or replay (or `open()`); `pending()` of an
 * instance that did not open it only lists, touching nothing (`spool status` beside a running
 * agent). `close()` releases the lock (it also goes when the process exits).
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
  private readonly keyFile: string;
  private readonly lockOptions: { staleMs: number; waitMs: number; onCompromised: (error: Error) => void };
  private key: Buffer | undefined;
  private releaseLock: (() => Promise<void>) | undefined;
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
    unauthenticated: 0,
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
    this.keyFile = resolve(
      options.keyFile ?? join(dirname(this.directory), `${basename(this.directory)}.key`),
    );
    this.lockOptions = {
      staleMs: options.lockStaleMs ?? 10_000,
      waitMs: options.lockWaitMs ?? 12_000,
      onCompromised:
        options.onLockCompromised ??
        ((error) =>
          process.emitWarning(`spool ${this.directory}: writer lock compromised: ${error.message}`)),
    };
  }

  /**
   * Creates the folder if needed (0700; HostFileError when it is not private), takes its writer
   * lock (SpoolLockedError when another agent holds it), loads the key, removes temp files of
   * interrupted writes (ours: the lock is held) and indexes the spooled files. Called by writes
   * and replays; call it to fail early.
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

  /**
   * Spooled entries, newest first (listed, not verified: `replay` verifies). An instance that has
   * not opened the folder only lists it: no lock taken, no temp file of a running writer removed.
   */
  public async pending(): Promise<SpoolEntryInfo[]> {
    if (this.opening === undefined) return (await this.scan()).reverse();
    await this.open();
    return [...this.index.values()].reverse();
  }

  /** The bytes of a spool file for `record`, authenticated with this spool's key (e.g. kept aside as refused). */
  public async encode(record: SpoolRecord): Promise<Buffer> {
    await this.open();
    if (this.key === undefined) throw new SpoolError('spool key not loaded');
    return encodeSpoolRecord(record, this.key);
  }

  /** Releases the writer lock; a later write or replay takes it again. */
  public async close(): Promise<void> {
    await this.opening?.catch(() => undefined);
    await Promise.all([this.writeChain, this.replayChain]);
    const release = this.releaseLock;
    this.releaseLock = undefined;
    this.opening = undefined;
    this.index.clear();
    this.bytes = 0;
    await release?.();
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
    await ensurePrivateDirectory(this.directory);
    const release = await lockSpoolDirectory(this.directory, this.lockOptions);
    try {
      this.key = await loadSpoolKey(this.keyFile);
    } catch (error) {
      await release();
      throw error;
    }
    this.releaseLock = release;
    this.index.clear();
    this.bytes = 0;
    for (const fileName of await this.fs.readdir(this.directory)) {
      if (!fileName.startsWith(TEMP_PREFIX)) continue;
      // Ours to remove: the writer lock is held, so no other writer is mid-write.
      await this.unlinkIfPresent(join(this.directory, fileName));
      this.counters.tempFilesRemoved += 1;
    }
    for (const info of await this.scan()) {
      this.index.set(info.fileName, info);
      this.bytes += info.bytes;
      this.lastTimestamp = Math.max(this.lastTimestamp, info.timestamp);
    }
  }

  /** The entry files, oldest first, as listed (nothing is changed). Links are listed too: replay quarantines them. */
  private async scan(): Promise<SpoolEntryInfo[]> {
    const found: SpoolEntryInfo[] = [];
    let names: string[];
    try {
      names = await this.fs.readdir(this.directory);
    } catch (error) {
      if (errnoCode(error) === 'ENOENT' && this.opening === undefined) return [];
      throw error;
    }
    for (const fileName of names) {
      const name = parseSpoolFileName(fileName);
      if (!name) continue;
      try {
        const stat = await this.fs.stat(join(this.directory, fileName));
        if (stat.isFile() || stat.isSymbolicLink?.() === true)
          found.push({ fileName, ...name, bytes: stat.size });
      } catch (error) {
        if (errnoCode(error) !== 'ENOENT') throw error;
      }
    }
    found.sort((a, b) => a.timestamp - b.timestamp || (a.fileName < b.fileName ? -1 : 1));
    return found;
  }

  private async writeOne(input: SpoolWriteInput): Promise<SpoolEntryInfo> {
    checkNameParts(input.payloadType, input.id);
    if (input.body === undefined) throw new InvalidSpoolEntryError('body', 'is undefined');
    try {
      await this.open();
    } catch (error) {
      // A full disk before the first write (the key, the lock) is still a full disk, not a crash.
      if (DISK_FULL.has(errnoCode(error) ?? '')) {
        this.counters.writeErrors += 1;
        throw new SpoolDiskFullError(input.payloadType, { cause: error });
      }
      throw error;
    }
    // Strictly increasing, so newest-first order is exact even within one millisecond.
    const timestamp = Math.max(Math.trunc(this.clock.now()), this.lastTimestamp + 1);
    const fileName = formatSpoolFileName({ payloadType: input.payloadType, timestamp, id: input.id });
    let data: Buffer;
    try {
      data = encodeSpoolRecord(
        { payloadType: input.payloadType, timestamp, id: input.id, body: input.body },
        this.key ?? Buffer.alloc(0),
      );
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
      const stat = await this.fs.stat(path);
      const uid = typeof process.getuid === 'function' ? process.getuid() : undefined;
      if (!stat.isFile()) {
        problem = new SpoolChecksumError(
          info.fileName,
          'not a regular file (a symbolic link?): not written by this agent',
        );
      } else if (uid !== undefined && stat.uid !== undefined && stat.uid !== uid) {
        problem = new SpoolChecksumError(
          info.fileName,
          `owned by uid ${stat.uid}, not this agent's user (uid ${uid})`,
        );
      } else {
        const record = decodeSpoolFile(
          info.fileName,
          await this.fs.readFile(path),
          this.key ?? Buffer.alloc(0),
        );
        return { ...info, body: record.body };
      }
    } catch (error) {
      if (errnoCode(error) === 'ENOENT') {
        this.forget(info);
        return undefined;
      }
      problem =
        error instanceof SpoolChecksumError
          ? error
          : new SpoolChecksumError(
              info.fileName,
              errnoCode(error) === 'ELOOP' ? 'a symbolic link: not written by this agent' : 'unreadable',
              { cause: error },
            );
    }
    await this.quarantine(info, problem);
    return undefined;
  }

  private async quarantine(info: SpoolEntryInfo, problem: SpoolChecksumError): Promise<void> {
    if (!this.quarantineReady) {
      await ensurePrivateDirectory(this.quarantineDirectory);
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
    if (/hmac|header|not written by this agent|owned by uid/.test(problem.reason))
      this.counters.unauthenticated += 1;
    // Best effort: the move is what matters; the reason helps the person who looks.
    await appendNoFollow(
      join(this.quarantineDirectory, QUARANTINE_REASONS),
      `${JSON.stringify({ ts: new Date(this.clock.now()).toISOString(), file: info.fileName, reason: problem.reason })}\n`,
    ).catch(() => undefined);
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
