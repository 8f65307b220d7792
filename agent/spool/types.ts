import type { SpoolFileSystem } from './file-system.js';

/** Where the spool gets the time; injectable for tests. */
export interface SpoolClock {
  now(): number;
}

/** Options of `OfflineSpool`. */
export interface OfflineSpoolOptions {
  /** Spool folder, created if missing; corrupt files go to `<directory>/quarantine/`. One spool instance per folder. */
  readonly directory: string;
  /** Bound on the total size of spooled files; the oldest are evicted (and counted) to stay under it. */
  readonly maxBytes: number;
  /** @default Date */
  readonly clock?: SpoolClock;
  /** @default nodeSpoolFileSystem (`node:fs/promises`) */
  readonly fs?: SpoolFileSystem;
  /**
   * The HMAC key authenticating every entry, created (0600) at first start.
   * @default `<parent folder>/<folder name>.key`, in the agent's state folder next to the spool
   */
  readonly keyFile?: string;
  /** The writer lock counts as abandoned when not refreshed for this long. @default 10_000 */
  readonly lockStaleMs?: number;
  /** How long `open()` waits for another agent's writer lock before failing. @default 12_000 */
  readonly lockWaitMs?: number;
  /** The writer lock could not be refreshed (it may be someone else's now). @default a process warning */
  readonly onLockCompromised?: (error: Error) => void;
}

/** An event to spool. `id` is the event's own id, kept so the receiver can drop a resend as a duplicate. */
export interface SpoolWriteInput {
  /** e.g. `stall`, `run_summary`: [A-Za-z0-9_.], no hyphen (it separates the file name's parts). */
  readonly payloadType: string;
  /** [A-Za-z0-9_.-], e.g. a UUID. */
  readonly id: string;
  /** Any JSON value. */
  readonly body: unknown;
}

/** One spooled file, as listed (not yet verified). */
export interface SpoolEntryInfo {
  /** `<payloadType>-<timestamp>-<id>.json` */
  readonly fileName: string;
  readonly payloadType: string;
  /** Epoch ms when spooled (strictly increasing within a spool, so newest-first is exact). */
  readonly timestamp: number;
  readonly id: string;
  readonly bytes: number;
}

/** A spooled event read back and verified against its checksum. */
export interface SpoolEntry extends SpoolEntryInfo {
  readonly body: unknown;
}

/**
 * Sends verified entries to the receiver; resolves with the ids the receiver accepted.
 * Only those are deleted; throwing or leaving ids out keeps the entries for the next round.
 */
export type SpoolDeliver = (
  entries: readonly SpoolEntry[],
) => Promise<{ readonly deliveredIds: readonly string[] }>;

/** Options of one replay round. */
export interface ReplayOptions {
  /** Entries handed to `deliver` per call. @default 10 (an EventBridge PutEvents batch) */
  readonly batchSize?: number;
}

/** What one replay round did. */
export interface ReplayResult {
  /** Verified entries handed to `deliver`. */
  readonly attempted: number;
  /** Entries the receiver accepted (and that were deleted). */
  readonly delivered: number;
  /** Files that failed verification and were moved to `quarantine/`. */
  readonly quarantined: number;
  /** Entries still spooled after the round. */
  readonly remaining: number;
  /** The error `deliver` threw, when the round stopped because of it. */
  readonly error?: unknown;
}

/** Counters since the spool was opened, plus its current size. */
export interface SpoolStats {
  /** Events written to the spool. */
  readonly spooled: number;
  /** Events accepted by the receiver and deleted. */
  readonly delivered: number;
  /** Files that failed verification and were moved to `quarantine/`. */
  readonly quarantined: number;
  /** Oldest files deleted to keep under `maxBytes`. */
  readonly evicted: number;
  /** Writes that failed (disk full, I/O error, entry larger than the bound): those events are lost. */
  readonly writeErrors: number;
  /** Temp files of interrupted writes (a crash mid-write) removed when the spool was opened. */
  readonly tempFilesRemoved: number;
  /** Of `quarantined`: files failing authentication (no or a wrong HMAC, another owner, a link): not written by this agent. */
  readonly unauthenticated: number;
  /** Current total size of the spooled files. */
  readonly bytes: number;
  /** Current number of spooled files. */
  readonly files: number;
}

/** Options of the background replay loop. */
export interface ReplayLoopOptions extends ReplayOptions {
  /** Pause between the end of one round and the start of the next. */
  readonly intervalMs: number;
  readonly deliver: SpoolDeliver;
  /** Called after each round (also when `deliver` threw; see `result.error`). */
  readonly onRound?: (result: ReplayResult) => void;
  /** Called when a round failed outside `deliver` (e.g. the spool folder became unreadable). */
  readonly onError?: (error: unknown) => void;
}
