import type { RunRecord, Signal } from '#contracts/lifecycle.js';

/** One line of a command's story, in time order. */
export interface TimelineEntry {
  readonly at: string;
  readonly runId: string;
  readonly kind:
    | 'accepted'
    | 'replay_of'
    | 'attempt_started'
    | 'attempt_ended'
    | 'signal'
    | 'dead_lettered'
    | 'finalized'
    | 'replayed_as';
  readonly text: string;
}

export interface TraceRun {
  readonly run: RunRecord;
  /** Inline signals plus those stored beside the run. */
  readonly signals: readonly Signal[];
}

export interface Trace {
  readonly correlationId: string;
  readonly runs: readonly TraceRun[];
  readonly timeline: readonly TimelineEntry[];
  /** Paste into CloudWatch Logs Insights over the environment's function log groups. */
  readonly logsInsightsQuery: string;
}

/**
 * Builds the timeline of everything that happened under one correlation id:
 * acceptance, each attempt and its stages' outcome codes, signals, dead letters,
 * and replay links (old → new commandId).
 *
 * @example
 * const trace = buildTrace(correlationId, [{ run, signals }]);
 * for (const entry of trace.timeline) console.log(entry.at, entry.text);
 */
export function buildTrace(correlationId: string, runs: readonly TraceRun[]): Trace {
  const ordered = [...runs].sort((a, b) => a.run.issuedAt.localeCompare(b.run.issuedAt));
  const timeline: TimelineEntry[] = [];
  for (const { run, signals } of ordered) {
    const add = (at: string | undefined, kind: TimelineEntry['kind'], text: string) => {
      if (at) timeline.push({ at, runId: run.runId, kind, text });
    };
    add(run.issuedAt, 'accepted', `accepted ${run.commandType} on ${run.lane} (commandId ${run.commandId})`);
    if (run.replayOf) add(run.issuedAt, 'replay_of', `replay of ${run.replayOf} → ${run.commandId}`);
    for (const stage of run.stages) {
      add(stage.startedAt, 'attempt_started', `attempt ${stage.attempt} started (${stage.name})`);
      if (stage.endedAt) {
        add(
          stage.endedAt,
          'attempt_ended',
          `attempt ${stage.attempt} ended: ${stage.outcomeCode ?? 'no outcome'}${stage.rationale ? ` — ${stage.rationale}` : ''}`,
        );
      }
    }
    for (const signal of signals) {
      add(
        signal.raisedAt,
        'signal',
        `signal ${signal.type} [${signal.code}]${signal.RequiresHumanReview ? ' RequiresHumanReview' : ''}: ${signal.rationale}`,
      );
    }
    if (run.deadLetter) {
      add(
        run.deadLetter.at,
        'dead_lettered',
        `dead-lettered: ${run.deadLetter.reason} — ${run.deadLetter.rationale}; key Rejected`,
      );
    }
    if (run.FinalizedAtUtc) {
      add(
        run.FinalizedAtUtc,
        'finalized',
        `key Completed (FinalizedAtUtc), run ${run.status} after ${run.attempts} attempt(s)`,
      );
    }
    for (const later of ordered) {
      if (later.run.replayOf === run.commandId) {
        add(later.run.issuedAt, 'replayed_as', `replayed as ${later.run.commandId}`);
      }
    }
  }
  timeline.sort((a, b) => a.at.localeCompare(b.at) || kindOrder(a.kind) - kindOrder(b.kind));
  return { correlationId, runs: ordered, timeline, logsInsightsQuery: logsInsightsQuery(correlationId) };
}

const KIND_ORDER: readonly TimelineEntry['kind'][] = [
  'accepted',
  'replay_of',
  'replayed_as',
  'attempt_started',
  'signal',
  'attempt_ended',
  'dead_lettered',
  'finalized',
];

function kindOrder(kind: TimelineEntry['kind']): number {
  return KIND_ORDER.indexOf(kind);
}

/** A Logs Insights query for every log line of one correlation id, oldest first. */
export function logsInsightsQuery(correlationId: string): string {
  const quoted = correlationId.replace(/\\/g, '\\\\').replace(/"/g, '\\"');
  return [
    'fields @timestamp, service, level, message, lane, commandId, runId, messageId, status, outcomeCode, reason',
    `| filter correlationId = "${quoted}"`,
    '| sort @timestamp asc',
    '| limit 500',
  ].join('\n');
}

/** What tracing reads: runs by id and by correlation id (an index), and — only on request — a scan by message id. */
export interface TraceSource {
  getRun(runId: string): Promise<TraceRun | undefined>;
  findRunsByCorrelationId(correlationId: string): Promise<readonly { readonly runId: string }[]>;
  /** Reads the whole table; used only when a message id is all there is. */
  findRunIdByMessageId?(messageId: string): Promise<string | undefined>;
}

export type ResolvedFrom = 'commandId' | 'correlationId' | 'messageId';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Resolves a commandId, correlation id or SQS message id to the correlation id
 * and traces every run under it. Undefined when nothing matches.
 */
export async function traceFrom(
  source: TraceSource,
  id: string,
): Promise<{ readonly resolvedFrom: ResolvedFrom; readonly trace: Trace } | undefined> {
  let resolvedFrom: ResolvedFrom | undefined;
  let correlationId: string | undefined;
  if (UUID.test(id)) {
    const direct = await source.getRun(id.toLowerCase());
    if (direct) {
      resolvedFrom = 'commandId';
      correlationId = direct.run.correlationId;
    }
  }
  if (!correlationId && (await source.findRunsByCorrelationId(id)).length > 0) {
    resolvedFrom = 'correlationId';
    correlationId = id;
  }
  if (!correlationId && UUID.test(id) && source.findRunIdByMessageId) {
    const runId = await source.findRunIdByMessageId(id);
    const run = runId ? await source.getRun(runId) : undefined;
    if (run) {
      resolvedFrom = 'messageId';
      correlationId = run.run.correlationId;
    }
  }
  if (!correlationId || !resolvedFrom) return undefined;
  const related = await source.findRunsByCorrelationId(correlationId);
  const runs = (await Promise.all(related.map((r) => source.getRun(r.runId)))).filter(
    (r): r is TraceRun => r !== undefined,
  );
  return { resolvedFrom, trace: buildTrace(correlationId, runs) };
}
