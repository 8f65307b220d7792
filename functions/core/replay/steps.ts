import { type CommandEnvelope, parseEnvelope, serializeEnvelope } from '#contracts/envelope.js';
import { KEY_STATUS, RUN_STATUS, type RunRecord } from '#contracts/lifecycle.js';
import {
  type DeadLetterItem,
  type DrillEvidence,
  type DuplicateProbeInput,
  type DuplicateProbeOutput,
  NON_REPLAYABLE_REASONS,
  REPLAY_DRILL_COMPLETED,
  REPLAY_DRILL_SOURCE,
  type ReadDeadLettersOutput,
  type RecordEvidenceInput,
  type ReplayDrillInput,
  type ReplayMessageInput,
  type ReplayMessageOutput,
  type RunVerdict,
  type VerifyProbeOutput,
  type VerifyRunsInput,
  type VerifyRunsOutput,
} from '#contracts/replay-drill.js';
import type { Clock } from '../base/clock.js';
import type { LifecycleStore } from '../lifecycle/ports.js';
import type { CommandQueue, DeadLetterQueue } from '../queues/ports.js';
import type { EventPublisher } from '../telemetry/ports.js';
import { replayCommandIdFor } from './replay-command-id.js';

/** A dead letter deleted without a replay because its original had already completed. */
export interface DiscardedDeadLetter {
  readonly commandId: string;
  readonly messageId: string;
  readonly drillId: string;
  readonly reason: string;
  /** The original's run as the drill found it. */
  readonly runStatus: string;
  readonly keyStatus: string;
  readonly at: string;
}

/** Where replayed envelopes and drill evidence are kept (the lifecycle table). */
export interface ReplayRecords {
  /** Stores the replay's body unless one is stored; returns the stored one (the first wins). */
  saveReplayBodyOnce(commandId: string, body: string): Promise<string>;
  getReplayBody(commandId: string): Promise<string | undefined>;
  /** Durable note of a dead letter deleted without a replay; repeating it writes the same item. */
  recordDiscardedDeadLetter(record: DiscardedDeadLetter): Promise<void>;
  saveEvidence(evidence: DrillEvidence): Promise<void>;
}

export interface ReplayDependencies {
  readonly deadLetterQueue: (lane: string) => DeadLetterQueue;
  readonly queue: CommandQueue;
  readonly store: Pick<LifecycleStore, 'getRun' | 'recordReplayLink'>;
  readonly records: ReplayRecords;
  readonly events: EventPublisher;
  readonly clock: Clock;
}

/** Messages stay hidden this long while the drill replays them. */
const DRILL_LOCK_SECONDS = 300;
/** Step Functions passes at most 256 KB between states; bodies beyond this wait for the next drill. */
const ITEMS_BODY_BUDGET_BYTES = 180_000;
const MAX_WAIT_SECONDS = 30;

/**
 * The drill's steps over ports; the Step Functions tasks and `runlane replay`
 * call the same functions (contract.ts has the flow).
 *
 * @example
 * const steps = replaySteps(deps);
 * const read = await steps.readDeadLetters({ lane, maxMessages: 10, dryRun: false, verifyTimeoutSeconds: 60, drillId });
 */
export function replaySteps(deps: ReplayDependencies) {
  async function readDeadLetters(input: ReplayDrillInput): Promise<ReadDeadLettersOutput> {
    const messages = await deps
      .deadLetterQueue(input.lane)
      .receive(Math.max(1, Math.min(100, input.maxMessages)), input.dryRun ? 0 : DRILL_LOCK_SECONDS);
    const wanted = input.commandIds ? new Set(input.commandIds) : undefined;
    const chosen: typeof messages = [];
    const putBack: typeof messages = [];
    let budget = ITEMS_BODY_BUDGET_BYTES;
    for (const m of messages) {
      const size = Buffer.byteLength(m.body) + 1024;
      if ((wanted && !wanted.has(commandIdOf(m) ?? '')) || size > budget) putBack.push(m);
      else {
        chosen.push(m);
        budget -= size;
      }
    }
    if (!input.dryRun)
      await Promise.all(putBack.map((m) => deps.deadLetterQueue(input.lane).restore(m.receiptHandle)));
    const items: DeadLetterItem[] = chosen.map((m) => {
      const commandId = commandIdOf(m);
      return {
        lane: input.lane,
        messageId: m.messageId,
        receiptHandle: m.receiptHandle,
        body: m.body,
        // A message SQS redrove by itself (e.g. after repeated timeouts) carries no reason.
        reason: m.attributes.reason ?? 'redriven_without_reason',
        rationale: m.attributes.rationale ?? '',
        ...(commandId ? { commandId } : {}),
        ...(m.attributes.correlationId ? { correlationId: m.attributes.correlationId } : {}),
        receiveCount: m.receiveCount,
        sentAt: m.sentAt,
      };
    });
    return {
      drillId: input.drillId,
      lane: input.lane,
      dryRun: input.dryRun,
      verifyTimeoutSeconds: input.verifyTimeoutSeconds,
      items,
    };
  }

  /**
   * Replays one dead letter, at most once in effect. The replay's commandId is fixed by the dead
   * letter (`replayCommandIdFor(original)`), so every step below is safe to repeat, and a drill run
   * again (or a retried task) ends where the first one would have:
   *
   * 1. Read the original's run. Key Completed: nothing to replay (a later delivery, or an earlier
   *    replay of a duplicate, finished it) → record the discard, delete the dead letter. Key
   *    Reserved: an attempt may still finish it → leave the dead letter. Rejected or no run → go on.
   * 2. Read the replay's run. It exists: an earlier drill sent it → never re-sent; link, delete.
   * 3. Store the replay's body, the first one wins (`serializeEnvelope`: SQS can carry it).
   * 4. Link the old run to the replay (`recordReplayLink`, once per id).
   * 5. Send the replay (the same envelope every time).
   * 6. Delete the dead letter.
   *
   * Crash points (the dead letter stays hidden for the drill's lock, then a later drill reads it):
   * - before 3, or between 3 and 4: nothing was sent or linked; the next drill stores nothing new
   *   (the body is already there) and carries on from 4.
   * - between 4 and 5: the old run names a replay that was never sent; the next drill finds no
   *   replay run, sends it (same id, same body), deletes the dead letter.
   * - between 5 and 6: the replay is on the lane. The next drill finds its run (not re-sent) or, if
   *   the lane has not reached it yet, sends the same command again, which the lane worker
   *   acknowledges as a duplicate: executed once either way; then the dead letter is deleted.
   * - between the discard record (1) and the delete: the next drill finds the original still
   *   Completed and deletes the dead letter; the record is written again, unchanged.
   * An error (not a crash) between steps puts the dead letter back at once; the same holds.
   */
  async function replayMessage({ drillId, dryRun, item }: ReplayMessageInput): Promise<ReplayMessageOutput> {
    const dlq = deps.deadLetterQueue(item.lane);
    const base = { messageId: item.messageId, oldCommandId: item.commandId ?? null };
    const leave = async (
      status: ReplayMessageOutput['status'],
      detail: string,
      newCommandId: string | null = null,
    ): Promise<ReplayMessageOutput> => {
      if (!dryRun) await dlq.restore(item.receiptHandle).catch(() => undefined);
      return { ...base, newCommandId, status, detail };
    };
    let newCommandId: string | null = null;
    try {
      if ((NON_REPLAYABLE_REASONS as readonly string[]).includes(item.reason)) {
        return await leave('skipped', `${item.reason}: not replayable, left in the DLQ`);
      }
      const parsed = parseEnvelope(item.body);
      if (!parsed.ok) return await leave('skipped', `${parsed.reason}: ${parsed.rationale}`);
      if (parsed.envelope.lane !== item.lane) {
        return await leave('skipped', `envelope names lane ${parsed.envelope.lane}, not ${item.lane}`);
      }
      const old = parsed.envelope;
      const oldCommandId = old.commandId;
      newCommandId = replayCommandIdFor(oldCommandId);
      const ids = { ...base, oldCommandId };

      // 1. The original first.
      const original = (await deps.store.getRun(oldCommandId))?.run;
      if (original?.keyStatus === KEY_STATUS.Completed) {
        const state = `${original.status}, key ${original.keyStatus}`;
        if (dryRun) {
          return {
            ...ids,
            newCommandId: null,
            status: 'already_completed',
            detail: `already_completed: original ${oldCommandId} finished (${state}); dry run, the dead letter stays`,
          };
        }
        await deps.records.recordDiscardedDeadLetter({
          commandId: oldCommandId,
          messageId: item.messageId,
          drillId,
          reason: item.reason,
          runStatus: original.status,
          keyStatus: original.keyStatus,
          at: deps.clock.now().toISOString(),
        });
        await dlq.delete(item.receiptHandle);
        return {
          ...ids,
          newCommandId: null,
          status: 'already_completed',
          detail: `already_completed: original ${oldCommandId} finished (${state}); not re-sent, dead letter deleted`,
        };
      }
      if (original?.keyStatus === KEY_STATUS.Reserved) {
        return {
          ...(await leave(
            'skipped',
            `original_not_closed: ${notClosed(original, deps.clock.now().getTime())}`,
          )),
          oldCommandId,
        };
      }

      // 2. An earlier drill's replay.
      const previous = (await deps.store.getRun(newCommandId))?.run;
      if (dryRun) {
        return {
          ...ids,
          newCommandId,
          status: 'would_replay',
          detail: previous
            ? `dry run: already replayed as ${newCommandId} (${previous.status}, key ${previous.keyStatus}); the dead letter would be deleted`
            : `dry run: would replay as ${newCommandId}`,
        };
      }
      if (previous) {
        const linked = await deps.store.recordReplayLink(oldCommandId, newCommandId);
        await dlq.delete(item.receiptHandle);
        return {
          ...ids,
          newCommandId,
          status: 'replayed',
          detail: `already replayed as ${newCommandId} by an earlier drill (${previous.status}, key ${previous.keyStatus}); not re-sent${linked ? '' : '; the old command had no run'}`,
        };
      }

      // 3. The body: same command semantics and correlation chain, the fixed new id, the link back.
      const replay: CommandEnvelope = {
        ...old,
        commandId: newCommandId,
        replayOf: oldCommandId,
        issuedAt: deps.clock.now().toISOString(),
      };
      const body = await deps.records.saveReplayBodyOnce(newCommandId, serializeEnvelope(replay));
      const stored = parseEnvelope(body);
      if (!stored.ok)
        throw new Error(`stored replay body of ${newCommandId} is not an envelope: ${stored.rationale}`);
      // 4. Link before sending: the old run names its replay before the replay can run.
      const linked = await deps.store.recordReplayLink(oldCommandId, newCommandId);
      // 5. Send; a re-send of the same commandId is deduplicated by the lane worker.
      await deps.queue.send(stored.envelope);
      // 6. Only now, with the replay linked and on the lane, may the dead letter go.
      await dlq.delete(item.receiptHandle);
      return {
        ...ids,
        newCommandId,
        status: 'replayed',
        detail: linked ? 'replayed; link recorded on the old run' : 'replayed; the old command had no run',
      };
    } catch (error) {
      return leave('failed', error instanceof Error ? error.message : String(error), newCommandId);
    }
  }

  async function verifyRuns(input: VerifyRunsInput): Promise<VerifyRunsOutput> {
    const now = deps.clock.now().getTime();
    const runs: RunVerdict[] = [];
    for (const commandId of input.newCommandIds) {
      const view = await deps.store.getRun(commandId);
      const run = view?.run;
      let verdict: RunVerdict['verdict'] = 'pending';
      if (run?.keyStatus === KEY_STATUS.Rejected) verdict = 'dead_lettered';
      else if (run?.keyStatus === KEY_STATUS.Completed) {
        verdict = run.status === RUN_STATUS.Completed ? 'completed' : 'needs_review';
      } else if (now >= input.deadline) verdict = 'timed_out';
      runs.push({ commandId, status: run?.status ?? 'Queued', keyStatus: run?.keyStatus ?? 'None', verdict });
    }
    return {
      done: runs.every((r) => r.verdict !== 'pending'),
      runs,
      nextWaitSeconds: Math.min(MAX_WAIT_SECONDS, Math.max(1, input.waitSeconds * 2)),
      deadline: input.deadline,
    };
  }

  async function duplicateProbe(input: DuplicateProbeInput): Promise<DuplicateProbeOutput> {
    const target = input.dryRun ? undefined : input.runs.find((r) => r.verdict === 'completed');
    const none = { commandId: null, before: null, deadline: input.deadline, waitSeconds: 1 };
    if (!target) return none;
    const [view, body] = await Promise.all([
      deps.store.getRun(target.commandId),
      deps.records.getReplayBody(target.commandId),
    ]);
    if (!view?.run.FinalizedAtUtc || !body) return none;
    const parsed = parseEnvelope(body);
    if (!parsed.ok) return none;
    const before = {
      attempts: view.run.attempts,
      FinalizedAtUtc: view.run.FinalizedAtUtc,
      duplicateDeliveries: view.run.duplicateDeliveries ?? 0,
    };
    // The same envelope, same (new) commandId: it must complete without reprocessing.
    await deps.queue.send(parsed.envelope);
    return { commandId: target.commandId, before, deadline: input.deadline, waitSeconds: 1 };
  }

  async function verifyProbe(input: DuplicateProbeOutput): Promise<VerifyProbeOutput> {
    const next = Math.min(MAX_WAIT_SECONDS, Math.max(1, input.waitSeconds * 2));
    if (!input.commandId || !input.before) {
      return {
        ...input,
        waitSeconds: next,
        done: true,
        verdict: 'skipped',
        detail: 'no completed replay to probe',
      };
    }
    const run = (await deps.store.getRun(input.commandId))?.run;
    if (!run)
      return {
        ...input,
        waitSeconds: next,
        done: true,
        verdict: 'failed',
        detail: 'the probed run disappeared',
      };
    if (run.attempts !== input.before.attempts || run.FinalizedAtUtc !== input.before.FinalizedAtUtc) {
      return {
        ...input,
        waitSeconds: next,
        done: true,
        verdict: 'failed',
        detail: 'the duplicate was processed again',
      };
    }
    if ((run.duplicateDeliveries ?? 0) > input.before.duplicateDeliveries) {
      return {
        ...input,
        waitSeconds: next,
        done: true,
        verdict: 'passed',
        detail: `duplicate acknowledged without reprocessing (attempts ${run.attempts}, key ${run.keyStatus})`,
      };
    }
    if (deps.clock.now().getTime() >= input.deadline) {
      return {
        ...input,
        waitSeconds: next,
        done: true,
        verdict: 'failed',
        detail: 'the duplicate was not seen before the timeout',
      };
    }
    return {
      ...input,
      waitSeconds: next,
      done: false,
      verdict: 'pending',
      detail: 'waiting for the duplicate',
    };
  }

  async function recordEvidence(input: RecordEvidenceInput): Promise<DrillEvidence> {
    const runs = input.verification?.runs ?? [];
    const count = (verdict: RunVerdict['verdict']) => runs.filter((r) => r.verdict === verdict).length;
    const replayed = input.replays.filter((r) => r.status === 'replayed');
    const probe = input.probe?.verdict ?? 'skipped';
    const evidence: DrillEvidence = {
      drillId: input.drillId,
      lane: input.lane,
      dryRun: input.dryRun,
      finishedAt: deps.clock.now().toISOString(),
      found: input.replays.length,
      replayed: replayed.length,
      alreadyCompleted: input.replays.filter((r) => r.status === 'already_completed').length,
      skipped: input.replays.filter((r) => r.status === 'skipped').length,
      failed: input.replays.filter((r) => r.status === 'failed').length,
      verified: {
        completed: count('completed'),
        needsReview: count('needs_review'),
        deadLettered: count('dead_lettered'),
        timedOut: count('timed_out') + count('pending'),
      },
      duplicateProbe: probe,
      passed:
        input.replays.every((r) => r.status !== 'failed') &&
        count('completed') === replayed.length &&
        (probe === 'passed' || (probe === 'skipped' && (input.dryRun || replayed.length === 0))),
      links: replayed.map((r) => ({ old: r.oldCommandId ?? '', new: r.newCommandId ?? '' })),
      skippedMessages: input.replays
        .filter((r) => r.status === 'skipped')
        .map((r) => ({ messageId: r.messageId, reason: r.detail.split(':')[0] ?? r.detail })),
    };
    await deps.records.saveEvidence(evidence);
    await deps.events.publish({
      source: REPLAY_DRILL_SOURCE,
      detailType: REPLAY_DRILL_COMPLETED,
      detail: evidence,
    });
    return evidence;
  }

  return { readDeadLetters, replayMessage, verifyRuns, duplicateProbe, verifyProbe, recordEvidence };
}

export type ReplaySteps = ReturnType<typeof replaySteps>;

/** The dead letter's commandId: its attribute, or (a message SQS redrove has none) its body's. */
function commandIdOf(message: {
  readonly body: string;
  readonly attributes: Readonly<Record<string, string>>;
}) {
  if (message.attributes.commandId) return message.attributes.commandId;
  const parsed = parseEnvelope(message.body);
  return parsed.ok ? parsed.envelope.commandId : parsed.commandId;
}

/** Why a Reserved original is not replayed yet. */
function notClosed(run: RunRecord, nowMs: number): string {
  const lock =
    run.lockExpiresAt !== undefined && run.lockExpiresAt > nowMs
      ? `an attempt holds its lock until ${new Date(run.lockExpiresAt).toISOString()}`
      : 'no attempt holds it, but it is not closed yet';
  return `original ${run.commandId} is still ${run.status} with key Reserved (${lock}); replaying now could run it twice, so the dead letter stays until the run is closed (Rejected)`;
}
