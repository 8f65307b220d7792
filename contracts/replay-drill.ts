/**
 * The replay drill's steps and their JSON inputs/outputs — one contract for the
 * Step Functions `ReplayDrill` state machine (each step is a Task state calling
 * a Lambda handler in functions/handlers/replay-drill.ts) and for
 * `runlane replay`, which runs the same steps directly.
 *
 * Flow: readDeadLetters → Map(replayMessage) → [Wait → verifyRuns]* →
 * duplicateProbe → [Wait → verifyProbe]* → recordEvidence.
 */

/** Reasons that mean the message can never be replayed as it is (report, never re-send). */
export const NON_REPLAYABLE_REASONS = ['invalid_json', 'invalid_envelope'] as const;

/** State machine input. */
export interface ReplayDrillInput {
  readonly lane: string;
  /** At most this many DLQ messages (1–100). */
  readonly maxMessages: number;
  /** Report what would be replayed; send and delete nothing. */
  readonly dryRun: boolean;
  /** How long verification may wait for the replayed runs to finish. */
  readonly verifyTimeoutSeconds: number;
  /** Names the execution; starting the same drill twice fails with ExecutionAlreadyExists. */
  readonly drillId: string;
  /** Only these dead letters (by commandId); others are put back untouched. @default all */
  readonly commandIds?: readonly string[];
}

/** A dead letter as the drill sees it (read with a visibility lock held for the drill). */
export interface DeadLetterItem {
  readonly lane: string;
  readonly messageId: string;
  readonly receiptHandle: string;
  readonly body: string;
  readonly reason: string;
  readonly rationale: string;
  readonly commandId?: string;
  readonly correlationId?: string;
  readonly receiveCount: number;
  /** When SQS first got the message in the DLQ (epoch ms). */
  readonly sentAt: number;
}

/** readDeadLetters: input ReplayDrillInput → output. */
export interface ReadDeadLettersOutput {
  readonly drillId: string;
  readonly lane: string;
  readonly dryRun: boolean;
  readonly verifyTimeoutSeconds: number;
  readonly items: readonly DeadLetterItem[];
}

/**
 * replayMessage (Map item): input → output. Never throws: errors are reported per item.
 *
 * At most once in effect: the replay's commandId is fixed by the dead letter (a UUIDv5 of the
 * original commandId, `functions/core/replay/replay-command-id.ts`), the original's run is checked
 * first, and the side effects run in the order body → link → send → delete, each safe to repeat
 * (`functions/core/replay/steps.ts` lists what a crash between two of them leaves).
 */
export interface ReplayMessageInput {
  readonly drillId: string;
  readonly dryRun: boolean;
  readonly item: DeadLetterItem;
}

export interface ReplayMessageOutput {
  readonly messageId: string;
  readonly oldCommandId: string | null;
  /** The replay's commandId (fixed by the dead letter); null when there is none (poison, already completed, failed early). */
  readonly newCommandId: string | null;
  /**
   * - `replayed`: the replay is on the lane (sent now, or by an earlier drill) and the dead letter deleted;
   * - `already_completed`: the original's key is already Completed; nothing sent, the dead letter deleted
   *   (on a dry run, deleted nothing);
   * - `skipped`: left in the DLQ (poison, wrong lane, the original still Reserved);
   * - `would_replay`: dry run; `failed`: an error, the dead letter is left to a later drill.
   */
  readonly status: 'replayed' | 'already_completed' | 'skipped' | 'would_replay' | 'failed';
  readonly detail: string;
}

/** verifyRuns: input → output; the state machine loops while `done` is false. */
export interface VerifyRunsInput {
  readonly newCommandIds: readonly string[];
  /** Epoch ms after which pending runs count as timed out. */
  readonly deadline: number;
  /** Current wait between polls, seconds (doubles, capped). */
  readonly waitSeconds: number;
}

export interface RunVerdict {
  readonly commandId: string;
  readonly status: string;
  readonly keyStatus: string;
  /** `completed`, `needs_review`, `dead_lettered`, `pending` or `timed_out`. */
  readonly verdict: 'completed' | 'needs_review' | 'dead_lettered' | 'pending' | 'timed_out';
}

export interface VerifyRunsOutput {
  readonly done: boolean;
  readonly runs: readonly RunVerdict[];
  readonly nextWaitSeconds: number;
  readonly deadline: number;
}

/** duplicateProbe: re-sends one completed replay with its new commandId. */
export interface DuplicateProbeInput {
  readonly lane: string;
  readonly dryRun: boolean;
  readonly runs: readonly RunVerdict[];
  readonly deadline: number;
}

export interface DuplicateProbeOutput {
  /** Null when nothing completed that could be probed (or a dry run). */
  readonly commandId: string | null;
  /** The run as it was before the duplicate was sent. */
  readonly before: {
    readonly attempts: number;
    readonly FinalizedAtUtc: string;
    readonly duplicateDeliveries: number;
  } | null;
  readonly deadline: number;
  readonly waitSeconds: number;
}

/** verifyProbe: input DuplicateProbeOutput → output; loops while `done` is false. */
export interface VerifyProbeOutput extends DuplicateProbeOutput {
  readonly done: boolean;
  /** `passed` (duplicate seen, no second attempt), `failed`, `skipped` (nothing to probe) or `pending`. */
  readonly verdict: 'passed' | 'failed' | 'skipped' | 'pending';
  readonly detail: string;
}

/** recordEvidence: everything the drill learned → the evidence record, and a ReplayDrillCompleted event. */
export interface RecordEvidenceInput {
  readonly drillId: string;
  readonly lane: string;
  readonly dryRun: boolean;
  readonly replays: readonly ReplayMessageOutput[];
  readonly verification: VerifyRunsOutput | null;
  readonly probe: VerifyProbeOutput | null;
}

export interface DrillEvidence {
  readonly drillId: string;
  readonly lane: string;
  readonly dryRun: boolean;
  readonly startedAt?: string;
  readonly finishedAt: string;
  readonly found: number;
  readonly replayed: number;
  /** Dead letters of commands whose original had already completed: not re-sent, deleted. */
  readonly alreadyCompleted: number;
  readonly skipped: number;
  readonly failed: number;
  readonly verified: {
    readonly completed: number;
    readonly needsReview: number;
    readonly deadLettered: number;
    readonly timedOut: number;
  };
  readonly duplicateProbe: VerifyProbeOutput['verdict'];
  /** Every replayed command completed and the probe passed (or was skipped on a dry run / nothing to probe). */
  readonly passed: boolean;
  readonly links: readonly { readonly old: string; readonly new: string }[];
  readonly skippedMessages: readonly { readonly messageId: string; readonly reason: string }[];
}

export const REPLAY_DRILL_COMPLETED = 'ReplayDrillCompleted';
export const REPLAY_DRILL_SOURCE = 'runlane.replay';
