import * as z from 'zod';
import type { CommandEnvelope } from '#contracts/envelope.js';
import {
  type CommandOutcome,
  type DomainRecord,
  KEY_STATUS,
  RUN_STATUS,
  type RunRecord,
  SIGNAL_TYPES,
  type Signal,
} from '#contracts/lifecycle.js';
import type { OpenRunsPage } from '../lifecycle/open-runs-ports.js';
import { abandonRun } from '../lifecycle/run.js';
import { uuidFromSeed } from '../replay/uuid-from-seed.js';
import type { AnomalySweepPorts } from './ports.js';
import type { CommandDefinition, CommandSettings } from './types.js';

/**
 * The parts of one sweep pass, read in this order: retried runs still Reserved (`openRuns` index,
 * kind R), delegated runs past their deadline (`openRuns`, kind D), stale reviews (`reviewQueue`).
 */
const SEGMENTS = ['reserved', 'delegated', 'review'] as const;
type Segment = (typeof SEGMENTS)[number];

/** Links one pass may chain before it stops and asks for a look (a runaway guard, not a budget). */
export const MAX_SWEEP_LINKS = 1000;
/** Time the sweep allows itself when the invocation's remaining time is unknown. */
export const DEFAULT_SWEEP_BUDGET_MS = 20_000;
/** Time kept back from the budget for the completion write (findings included) and the continuation. */
export const SWEEP_RESERVE_MS = 8_000;
/** Findings one link collects at most before it hands over: they are written with its completion. */
export const MAX_FINDINGS_PER_LINK = 500;
const DEFAULT_PAGE_SIZE = 100;
const DEFAULT_ABANDON_AFTER_MINUTES = 60;

const passSchema = z
  .object({
    /** 1 for the scheduled (or manual) sweep, then one more per continuation. */
    link: z.number().int().min(1).max(MAX_SWEEP_LINKS),
    segment: z.enum(SEGMENTS),
    /** Where the previous link stopped inside `segment` (an `OpenRunsIndex` cursor). */
    cursor: z.string().min(1).max(4096).optional(),
  })
  .strict();
type Pass = z.infer<typeof passSchema>;

export const anomalySweepPayloadSchema = z
  .object({
    trigger: z.enum(['schedule', 'manual', 'continuation']).default('schedule'),
    /** Set on a continuation: the pass it continues. */
    pass: passSchema.optional(),
  })
  .strict();

/**
 * `anomaly.sweep`: finds runs stuck in Running past a threshold, Reserved keys whose attempt lock
 * has expired, delegated runs past their deadline and NeedsReview runs older than N hours; and,
 * as the backstop of item 2 of issue 16, closes a run whose key is still Reserved
 * `abandonAfterMinutes` after its lock lapsed (`abandonRun`: Rejected, NeedsReview,
 * `attempt_abandoned`), by a write conditional on the run being unchanged since it was read.
 * One signal per finding (stored beside the sweep's run) plus a summary.
 *
 * It reads only the sparse indexes of open runs (`OpenRunsIndex`), never the table, page by page.
 * When the invocation's time (less {@link SWEEP_RESERVE_MS}) runs out, it enqueues a continuation
 * `anomaly.sweep` carrying where it stopped: each link is a command of its own, so its findings
 * are written with its own completion, a crash retries only that link, and the continuation's
 * commandId is derived from the link's, so a retried link re-sends the same command (deduplicated
 * by the lane worker) instead of forking the pass.
 */
export const anomalySweep: CommandDefinition<typeof anomalySweepPayloadSchema> = {
  commandType: 'anomaly.sweep',
  payloadSchema: anomalySweepPayloadSchema,
  async execute({ envelope, payload, now, attempt, deps }) {
    if (!deps.sweep) throw new Error('anomaly.sweep: this worker has no sweep ports (deps.sweep)');
    const ports = deps.sweep;
    const pass: Pass = payload.pass ?? { link: 1, segment: SEGMENTS[0] };
    const timeLeft = timeLeftReader(ports);
    const sweep = newLink(now, attempt, deps.settings);

    let position: { segment: Segment; cursor?: string } | undefined = pass;
    let pages = 0;
    while (position) {
      if (pages > 0 && (timeLeft() < SWEEP_RESERVE_MS || sweep.findings() >= MAX_FINDINGS_PER_LINK)) break;
      const page = await readPage(ports, position, now, deps.settings, ports.pageSize ?? DEFAULT_PAGE_SIZE);
      pages++;
      await sweep.take(position.segment, page, ports);
      position = page.nextCursor
        ? { segment: position.segment, cursor: page.nextCursor }
        : nextSegment(position.segment);
    }

    const continued = position ? await continuePass(envelope, pass, position, now, ports) : undefined;
    return sweep.outcome(envelope.commandId, pass.link, continued);
  },
};

type Continuation =
  | { readonly status: 'continued'; readonly commandId: string }
  | { readonly status: 'incomplete'; readonly rationale: string };

/** Enqueues the next link of the pass, from `position`. */
async function continuePass(
  envelope: CommandEnvelope,
  pass: Pass,
  position: { segment: Segment; cursor?: string },
  now: Date,
  ports: AnomalySweepPorts,
): Promise<Continuation> {
  if (pass.link >= MAX_SWEEP_LINKS) {
    return { status: 'incomplete', rationale: `the pass reached ${MAX_SWEEP_LINKS} links` };
  }
  if (!ports.continuations) {
    return { status: 'incomplete', rationale: 'out of time and no way to enqueue a continuation' };
  }
  const next: CommandEnvelope = {
    schemaVersion: envelope.schemaVersion,
    // Derived from this link: a retry of this link enqueues the same command, not a second pass.
    commandId: uuidFromSeed(`anomaly-sweep:${envelope.commandId}:next`),
    commandType: envelope.commandType,
    lane: envelope.lane,
    correlationId: envelope.correlationId,
    causationId: envelope.commandId,
    householdId: envelope.householdId,
    issuedAt: now.toISOString(),
    payload: {
      trigger: 'continuation',
      pass: {
        link: pass.link + 1,
        segment: position.segment,
        ...(position.cursor ? { cursor: position.cursor } : {}),
      },
    },
  };
  await ports.continuations.send(next);
  return { status: 'continued', commandId: next.commandId };
}

function nextSegment(segment: Segment): { segment: Segment } | undefined {
  const next = SEGMENTS[SEGMENTS.indexOf(segment) + 1];
  return next ? { segment: next } : undefined;
}

function readPage(
  ports: AnomalySweepPorts,
  position: { segment: Segment; cursor?: string },
  now: Date,
  settings: CommandSettings,
  limit: number,
): Promise<OpenRunsPage> {
  const cursor = position.cursor ? { cursor: position.cursor } : {};
  switch (position.segment) {
    case 'reserved':
      return ports.openRuns.listReservedDue({ dueBy: now.getTime(), limit, ...cursor });
    case 'delegated':
      return ports.openRuns.listDelegatedDue({ dueBy: now.getTime(), limit, ...cursor });
    case 'review':
      return ports.openRuns.listStaleReviews({
        before: new Date(now.getTime() - settings.staleReviewHours * 3_600_000).toISOString(),
        limit,
        ...cursor,
      });
  }
}

/** Milliseconds left, from the invocation when it knows, else from a budget started now. */
function timeLeftReader(ports: AnomalySweepPorts): () => number {
  const startedAt = performance.now();
  return () => ports.timeLeftMs?.() ?? DEFAULT_SWEEP_BUDGET_MS - (performance.now() - startedAt);
}

/** When a Reserved run's last attempt stopped holding it: its lock's end, else its last write. */
function heldUntil(run: RunRecord): number {
  return run.lockExpiresAt ?? Date.parse(run.updatedAt);
}

/** What one link found and did. */
function newLink(now: Date, attempt: number, settings: CommandSettings) {
  const nowMs = now.getTime();
  const at = now.toISOString();
  const stuckRunningBefore = new Date(nowMs - settings.stuckRunningMinutes * 60_000).toISOString();
  const abandonAfterMs = (settings.abandonAfterMinutes ?? DEFAULT_ABANDON_AFTER_MINUTES) * 60_000;
  const signals: Signal[] = [];
  const counts = {
    scanned: 0,
    stuckRunning: 0,
    expiredAttemptLocks: 0,
    staleReviews: 0,
    delegatedOverdue: 0,
    abandoned: 0,
  };
  const finding = (type: string, run: RunRecord, rationale: string): void => {
    signals.push({ type, RequiresHumanReview: true, code: run.commandId, rationale, raisedAt: at, attempt });
  };

  /** Closes a Reserved run held by nobody for longer than `abandonAfter`; true if this sweep closed it. */
  const abandonIfDue = async (run: RunRecord, ports: AnomalySweepPorts): Promise<boolean> => {
    if (run.keyStatus !== KEY_STATUS.Reserved) return false;
    const lapsedAt = heldUntil(run);
    if (!(nowMs - lapsedAt > abandonAfterMs)) return false;
    const closed = abandonRun(run, {
      rationale:
        `attempt ${run.attempts} stopped without finishing and nothing took the command over: ` +
        `held until ${new Date(lapsedAt).toISOString()}, closed by the anomaly sweep ` +
        `${Math.round(abandonAfterMs / 60_000)} min later`,
      now,
      expiresAt: run.expiresAt,
    });
    if (!(await ports.openRuns.closeAbandoned(run, closed))) return false;
    counts.abandoned++;
    return true;
  };

  const takeReserved = async (run: RunRecord, ports: AnomalySweepPorts): Promise<void> => {
    if (run.keyStatus !== KEY_STATUS.Reserved) return; // The index copy lags a write that finished it.
    const lapsed = new Date(heldUntil(run)).toISOString();
    if (await abandonIfDue(run, ports)) {
      counts.expiredAttemptLocks++;
      finding(
        SIGNAL_TYPES.anomalyExpiredAttemptLock,
        run,
        `key ${run.commandId} Reserved, lock expired at ${lapsed}: closed as attempt_abandoned`,
      );
      return;
    }
    counts.expiredAttemptLocks++;
    finding(
      SIGNAL_TYPES.anomalyExpiredAttemptLock,
      run,
      `key ${run.commandId} Reserved, lock expired at ${lapsed}`,
    );
    if (run.status === RUN_STATUS.Running && run.updatedAt < stuckRunningBefore) {
      counts.stuckRunning++;
      finding(SIGNAL_TYPES.anomalyStuckRun, run, `run ${run.runId} Running since ${run.createdAt}`);
    }
  };

  const takeDelegated = (run: RunRecord): void => {
    const delegation = run.delegation;
    if (run.status !== RUN_STATUS.Running || !delegation) return;
    counts.delegatedOverdue++;
    counts.stuckRunning++;
    finding(
      SIGNAL_TYPES.anomalyStuckRun,
      run,
      `run ${run.runId} Running, delegated to site ${delegation.site} (task ${delegation.taskId}): no result by ${delegation.deadlineAt}`,
    );
  };

  const takeReview = async (run: RunRecord, ports: AnomalySweepPorts): Promise<void> => {
    // A failed attempt whose retry never came: closed like any abandoned attempt.
    const closed = await abandonIfDue(run, ports);
    counts.staleReviews++;
    finding(
      SIGNAL_TYPES.anomalyStaleReview,
      run,
      `run ${run.runId} NeedsReview since ${run.needsReviewSince}${closed ? ': key closed as attempt_abandoned' : ''}`,
    );
  };

  return {
    findings: () => signals.length,
    async take(segment: Segment, page: OpenRunsPage, ports: AnomalySweepPorts): Promise<void> {
      counts.scanned += page.itemsRead;
      for (const run of page.runs) {
        if (segment === 'reserved') await takeReserved(run, ports);
        else if (segment === 'delegated') takeDelegated(run);
        else await takeReview(run, ports);
      }
    },
    outcome(sweepRunId: string, link: number, continued: Continuation | undefined): CommandOutcome {
      const records: DomainRecord[] = signals.map((signal, index) => ({
        kind: 'findingSignal',
        runId: sweepRunId,
        index,
        signal,
      }));
      const incomplete = continued?.status === 'incomplete';
      const summary = {
        ...counts,
        link,
        ...(continued?.status === 'continued' ? { continuedAs: continued.commandId } : {}),
        ...(incomplete ? { incomplete: continued.rationale } : {}),
      };
      const code = incomplete ? 'sweep_incomplete' : signals.length > 0 ? 'anomalies_found' : 'no_anomalies';
      return {
        status: 'Completed',
        outcomeCode: code,
        rationale: `${signals.length} finding(s) over ${counts.scanned} open-run index item(s)${
          continued?.status === 'continued' ? `, continued as ${continued.commandId}` : ''
        }${incomplete ? `; pass incomplete: ${continued.rationale}` : ''}`,
        result: summary,
        signals: [
          {
            type: SIGNAL_TYPES.anomalySweepSummary,
            RequiresHumanReview: signals.length > 0 || incomplete,
            code,
            rationale: JSON.stringify(summary),
          },
        ],
        records,
      };
    },
  };
}
