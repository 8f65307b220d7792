import { type CommandEnvelope, parseEnvelope } from '#contracts/envelope.js';
import { KEY_STATUS, RUN_STATUS } from '#contracts/lifecycle.js';
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

/** Where replayed envelopes and drill evidence are kept (the lifecycle table). */
export interface ReplayRecords {
  saveReplayBody(commandId: string, body: string): Promise<void>;
  getReplayBody(commandId: string): Promise<string | undefined>;
  saveEvidence(evidence: DrillEvidence): Promise<void>;
}

export interface ReplayDependencies {
  readonly deadLetterQueue: (lane: string) => DeadLetterQueue;
  readonly queue: CommandQueue;
  readonly store: Pick<LifecycleStore, 'getRun' | 'recordReplayLink'>;
  readonly records: ReplayRecords;
  readonly events: EventPublisher;
  readonly clock: Clock;
  /** The replay's commandId, derived from `seed` so a retried step re-sends the same command. */
  readonly newCommandId: (seed: string) => string;
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
      if ((wanted && !wanted.has(m.attributes.commandId ?? '')) || size > budget) putBack.push(m);
      else {
        chosen.push(m);
        budget -= size;
      }
    }
    if (!input.dryRun)
      await Promise.all(putBack.map((m) => deps.deadLetterQueue(input.lane).restore(m.receiptHandle)));
    const items: DeadLetterItem[] = chosen.map((m) => ({
      lane: input.lane,
      messageId: m.messageId,
      receiptHandle: m.receiptHandle,
      body: m.body,
      // A message SQS redrove by itself (e.g. after repeated timeouts) carries no reason.
      reason: m.attributes.reason ?? 'redriven_without_reason',
      rationale: m.attributes.rationale ?? '',
      ...(m.attributes.commandId ? { commandId: m.attributes.commandId } : {}),
      ...(m.attributes.correlationId ? { correlationId: m.attributes.correlationId } : {}),
      receiveCount: m.receiveCount,
      sentAt: m.sentAt,
    }));
    return {
      drillId: input.drillId,
      lane: input.lane,
      dryRun: input.dryRun,
      verifyTimeoutSeconds: input.verifyTimeoutSeconds,
      items,
    };
  }

  async function replayMessage({ drillId, dryRun, item }: ReplayMessageInput): Promise<ReplayMessageOutput> {
    const dlq = deps.deadLetterQueue(item.lane);
    const base = { messageId: item.messageId, oldCommandId: item.commandId ?? null };
    const leave = async (
      status: ReplayMessageOutput['status'],
      detail: string,
    ): Promise<ReplayMessageOutput> => {
      if (!dryRun) await dlq.restore(item.receiptHandle).catch(() => undefined);
      return { ...base, newCommandId: null, status, detail };
    };
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
      // Same command semantics and correlation chain, a new commandId, and the link back.
      const replay: CommandEnvelope = {
        ...old,
        // Same drill + same dead letter → same replay: a retried task re-sends a duplicate, which is deduplicated.
        commandId: deps.newCommandId(`${drillId}:${item.messageId}`),
        replayOf: old.commandId,
        issuedAt: deps.clock.now().toISOString(),
      };
      if (dryRun)
        return {
          ...base,
          oldCommandId: old.commandId,
          newCommandId: null,
          status: 'would_replay',
          detail: 'dry run',
        };
      const body = JSON.stringify(replay);
      await deps.records.saveReplayBody(replay.commandId, body);
      await deps.queue.send(replay);
      const linked = await deps.store.recordReplayLink(old.commandId, replay.commandId);
      // Only now, with the replay on the lane, may the dead letter go.
      await dlq.delete(item.receiptHandle);
      return {
        ...base,
        oldCommandId: old.commandId,
        newCommandId: replay.commandId,
        status: 'replayed',
        detail: linked ? 'replayed; link recorded on the old run' : 'replayed; the old command had no run',
      };
    } catch (error) {
      return leave('failed', error instanceof Error ? error.message : String(error));
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
