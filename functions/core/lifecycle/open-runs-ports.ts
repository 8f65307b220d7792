import type { RunRecord } from '#contracts/lifecycle.js';

/**
 * The open runs a sweep watches, read from sparse indexes instead of a table scan, so what a
 * pass reads grows with the open runs, not with the table (issue 16 item 6). Adapter:
 * `functions/adapters/dynamodb/open-runs.ts` (the `openRuns` and `reviewQueue` indexes of
 * `LIFECYCLE_TABLE`).
 *
 * Every list is paged: pass `nextCursor` back as `cursor` to continue; a cursor is opaque and
 * stays valid across processes (the sweep carries it in its continuation command).
 */
export interface OpenRunsIndex {
  /**
   * Runs whose key is still Reserved after a retry or takeover (`attempts > 1`) and whose lock
   * lapsed — or, without a lock, that were last written — at or before `dueBy` (epoch ms);
   * oldest first within each shard. A first attempt is never listed (it is not indexed).
   */
  listReservedDue(query: OpenRunsQuery): Promise<OpenRunsPage>;
  /**
   * Delegated runs (Running, key Completed, with `delegation`) whose `delegation.deadlineAt` is at
   * or before `dueBy` (epoch ms): the commands whose worker host missed its deadline. Oldest
   * deadline first within each shard.
   */
  listDelegatedDue(query: OpenRunsQuery): Promise<OpenRunsPage>;
  /** NeedsReview runs with `needsReviewSince` before `before` (ISO), oldest first. */
  listStaleReviews(query: {
    readonly before: string;
    readonly limit: number;
    readonly cursor?: string;
  }): Promise<OpenRunsPage>;
  /**
   * Writes `closed` (from `abandonRun`) in place of `seen` only if the run is unchanged since
   * `seen` was read: key still Reserved, same `attempts`, `lockOwner`, `lockExpiresAt`,
   * `updatedAt`, `duplicateDeliveries` and number of `replayedAs`. False when the run changed
   * (another attempt took it over, finished it, or something closed it first): nothing is
   * written then.
   */
  closeAbandoned(seen: RunRecord, closed: RunRecord): Promise<boolean>;
}

export interface OpenRunsQuery {
  /** Epoch ms: list what is due at or before this instant. */
  readonly dueBy: number;
  /** Runs per page at most (a page may hold fewer and still have a `nextCursor`). */
  readonly limit: number;
  readonly cursor?: string;
}

export interface OpenRunsPage {
  readonly runs: readonly RunRecord[];
  /** Absent once every shard has been read to the end of the range. */
  readonly nextCursor?: string;
  /** Index items the page read (what it cost), for the sweep's summary. */
  readonly itemsRead: number;
}
