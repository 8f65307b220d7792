import { randomUUID } from 'node:crypto';
import { DescribeTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { BatchWriteCommand, DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { itemToRun, runToItem } from '#adapters/dynamodb/items.js';
import { DynamoDbLifecycleStore } from '#adapters/dynamodb/lifecycle-store.js';
import { DynamoDbOpenRuns } from '#adapters/dynamodb/open-runs.js';
import { type CommandEnvelope, conversationalCorrelationId, parseEnvelope } from '#contracts/envelope.js';
import type { CommandOutcome, RunRecord } from '#contracts/lifecycle.js';
import { nightlySweepEnvelope } from '#contracts/nightly-sweep.js';
import { keys } from '#contracts/tables.js';
import { anomalySweep, anomalySweepPayloadSchema } from '#core/commands/anomaly-sweep.js';
import type { AnomalySweepPorts } from '#core/commands/ports.js';
import { DEFAULT_COMMAND_SETTINGS } from '#core/commands/types.js';
import type { OpenRunsIndex } from '#core/lifecycle/open-runs-ports.js';
import { localDynamoDbClient } from '#local/emulators/clients.js';
import { type DynamoDbLocal, startDynamoDbLocal } from '#local/emulators/dynamodb-local.js';
import { provisionLifecycleTable } from '#local/stack/provision.js';
import { anEnvelope } from '../support/factories.js';

/**
 * The anomaly sweep at scale (issue 16 item 6), on DynamoDB Local: a table of 100,000 closed runs
 * and a handful of open ones. The sweep reads the sparse `openRuns` and `reviewQueue` indexes only,
 * so what it reads (items, read units, Query calls) follows the open runs, never the table.
 */
const CLOSED_RUNS = 100_000;
const NOW = new Date('2030-06-01T12:00:00.000Z');
const MINUTE = 60_000;
const at = (offsetMs: number) => new Date(NOW.getTime() + offsetMs).toISOString();

/** Every request the instrumented client sent, with what each Query returned and cost. */
interface Traffic {
  readonly commands: string[];
  /** runIds of the items every Query returned. */
  readonly returned: string[];
  scannedCount: number;
  readUnits: number;
}

/**
 * A document client on DynamoDB Local that asks every request for its consumed capacity and
 * records it (an observer: the requests go over the wire unchanged otherwise).
 */
function instrumentedClient(dynamo: DynamoDBClient): { documents: DynamoDBDocumentClient; traffic: Traffic } {
  const traffic: Traffic = { commands: [], returned: [], scannedCount: 0, readUnits: 0 };
  dynamo.middlewareStack.add(
    (next, context) => async (args) => {
      const input = args.input as Record<string, unknown>;
      input.ReturnConsumedCapacity = 'TOTAL';
      traffic.commands.push(String(context.commandName));
      const result = await next(args);
      const output = result.output as {
        // Marshalled or not, depending on where the document client's translation sits.
        Items?: { runId?: string | { S?: string } }[];
        ScannedCount?: number;
        ConsumedCapacity?: { CapacityUnits?: number };
      };
      if (context.commandName === 'QueryCommand') {
        traffic.returned.push(
          ...(output.Items ?? []).map((item) =>
            typeof item.runId === 'string' ? item.runId : (item.runId?.S ?? '?'),
          ),
        );
        traffic.scannedCount += output.ScannedCount ?? 0;
        traffic.readUnits += output.ConsumedCapacity?.CapacityUnits ?? 0;
      }
      return result;
    },
    { step: 'initialize', name: 'recordTraffic' },
  );
  return {
    documents: DynamoDBDocumentClient.from(dynamo, { marshallOptions: { removeUndefinedValues: true } }),
    traffic,
  };
}

function resetTraffic(traffic: Traffic): void {
  traffic.commands.length = 0;
  traffic.returned.length = 0;
  traffic.scannedCount = 0;
  traffic.readUnits = 0;
}

/** A run as the lifecycle transitions would leave it; `overrides` sets the state under test. */
function aRun(overrides: Partial<RunRecord> & { runId?: string }): RunRecord {
  const runId = overrides.runId ?? randomUUID();
  return {
    runId,
    commandId: runId,
    commandType: 'ingestion.completed',
    lane: 'runtime-ingestion-completed',
    correlationId: `ingestion:${runId}`,
    householdId: 'hh-scale',
    issuedAt: at(-3 * 3_600_000),
    status: 'Completed',
    keyStatus: 'Completed',
    FinalizedAtUtc: at(-3 * 3_600_000),
    attempts: 1,
    stages: [
      {
        name: 'execute',
        attempt: 1,
        startedAt: at(-3 * 3_600_000),
        endedAt: at(-3 * 3_600_000 + 120),
        outcomeCode: 'ingestion_ok',
        rationale: 'error ratio 0.0100 within threshold 0.05',
      },
    ],
    signals: [],
    result: { totalRecords: 1000, errorRecords: 10 },
    createdAt: at(-3 * 3_600_000),
    updatedAt: at(-3 * 3_600_000 + 120),
    expiresAt: Math.floor(NOW.getTime() / 1000) + 30 * 86_400,
    ...overrides,
  };
}

/** A retried run still Reserved: attempt `attempts` holds (or held) the lock until `lockExpiresAt`. */
function aRetriedRun(name: string, overrides: Partial<RunRecord>): RunRecord {
  const { FinalizedAtUtc: _f, result: _r, ...base } = aRun({ runId: uuidFor(name) });
  return {
    ...base,
    status: 'Running',
    keyStatus: 'Reserved',
    attempts: 2,
    lockOwner: `req-2:${name}`,
    stages: [
      {
        name: 'execute',
        attempt: 1,
        startedAt: at(-4 * MINUTE),
        endedAt: at(-3 * MINUTE),
        outcomeCode: 'attempt_abandoned',
      },
      { name: 'execute', attempt: 2, startedAt: at(-3 * MINUTE) },
    ],
    ...overrides,
  };
}

const uuidFor = (name: string) => {
  const hex = Buffer.from(name).toString('hex').padEnd(12, '0').slice(0, 12);
  return `00000000-0000-4000-8000-${hex}`;
};

/** The open (and almost-open) runs of the scenario, by name. */
function scenario(): Record<string, RunRecord> {
  const deadline = (offsetMs: number) => ({
    taskId: `task-${offsetMs}`,
    site: 'lab',
    deadlineAt: at(offsetMs),
  });
  return {
    // Found: a retry whose lock lapsed 5 minutes ago (its message may still come back).
    expired: aRetriedRun('expired', {
      lockExpiresAt: NOW.getTime() - 5 * MINUTE,
      updatedAt: at(-8 * MINUTE),
    }),
    // Found and closed: Reserved 3 hours after its lock lapsed; nothing can take it over any more.
    abandoned: aRetriedRun('abandoned', {
      attempts: 3,
      lockExpiresAt: NOW.getTime() - 3 * 3_600_000,
      updatedAt: at(-3 * 3_600_000 - MINUTE),
    }),
    // Found: a retry that failed with retries left (no lock), 2 minutes ago.
    failedRetry: aRetriedRun('failedRetry', {
      status: 'NeedsReview',
      lockExpiresAt: undefined,
      lockOwner: `req-2:failedRetry`,
      needsReviewSince: at(-2 * MINUTE),
      updatedAt: at(-2 * MINUTE),
    }),
    // Found: delegated, its worker missed the deadline a minute ago.
    overdue: {
      ...aRun({ runId: uuidFor('overdue'), status: 'Running' }),
      delegation: deadline(-MINUTE),
    },
    // Found: NeedsReview for two days.
    stale: aRun({ runId: uuidFor('stale'), status: 'NeedsReview', needsReviewSince: at(-2 * 86_400_000) }),
    // In an index, not due: a live lock, a deadline ahead, a review of an hour.
    live: aRetriedRun('live', { lockExpiresAt: NOW.getTime() + 5 * MINUTE, updatedAt: at(-MINUTE) }),
    pending: { ...aRun({ runId: uuidFor('pending'), status: 'Running' }), delegation: deadline(3_600_000) },
    freshReview: aRun({
      runId: uuidFor('freshReview'),
      status: 'NeedsReview',
      needsReviewSince: at(-3_600_000),
    }),
    // Not indexed at all: a first attempt (its message comes back, or the lane's grace receive closes it).
    firstAttempt: {
      ...aRetriedRun('firstAttempt', { attempts: 1, lockExpiresAt: NOW.getTime() - 3 * 3_600_000 }),
      stages: [{ name: 'execute', attempt: 1, startedAt: at(-3 * 3_600_000) }],
    },
  };
}

const FOUND = ['expired', 'abandoned', 'failedRetry', 'overdue', 'stale'] as const;

const SETTINGS = { ...DEFAULT_COMMAND_SETTINGS, abandonAfterMinutes: 60 };

/** Runs one link of the sweep the way the lane worker would: its payload parsed by its schema. */
function runSweep(envelope: CommandEnvelope, ports: AnomalySweepPorts, now = NOW): Promise<CommandOutcome> {
  return anomalySweep.execute({
    envelope,
    payload: anomalySweepPayloadSchema.parse(envelope.payload),
    attempt: 1,
    now,
    deps: {
      approvals: { decide: () => Promise.reject(new Error('not used by the sweep')) },
      actions: { execute: () => Promise.reject(new Error('not used by the sweep')) },
      settings: SETTINGS,
      sweep: ports,
    },
  });
}

function aSweepEnvelope(): CommandEnvelope {
  const parsed = parseEnvelope(JSON.stringify(nightlySweepEnvelope(randomUUID(), NOW.toISOString())));
  if (!parsed.ok) throw new Error(parsed.rationale);
  return parsed.envelope;
}

/** The findings of an outcome: which run (by scenario name) each signal names, with its type. */
function findingsOf(outcomes: readonly CommandOutcome[], runs: Record<string, RunRecord>): string[] {
  const names = new Map(Object.entries(runs).map(([name, run]) => [run.commandId, name]));
  return outcomes
    .flatMap((outcome) => outcome.records ?? [])
    .map((record) =>
      record.kind === 'findingSignal' ? `${names.get(record.signal.code)}:${record.signal.type}` : '?',
    )
    .sort();
}

const EXPECTED_FINDINGS = [
  'abandoned:anomaly_expired_attempt_lock',
  'expired:anomaly_expired_attempt_lock',
  'failedRetry:anomaly_expired_attempt_lock',
  'overdue:anomaly_stuck_run',
  'stale:anomaly_stale_review',
].sort();

describe('anomaly.sweep on a table of 100,000 closed runs', () => {
  // Its own DynamoDB Local: 100,000 writes (and the table they leave) would slow every suite
  // sharing the run's instance; this one is stopped, table and all, when the file ends.
  let emulator: DynamoDbLocal;
  let dynamo: ReturnType<typeof localDynamoDbClient>;
  let documents: ReturnType<typeof instrumentedClient>['documents'];
  let traffic: ReturnType<typeof instrumentedClient>['traffic'];
  let openRuns: DynamoDbOpenRuns;
  const tableName = `runlane-sweep-scale-${randomUUID().slice(0, 8)}`;
  let runs: Record<string, RunRecord>;

  beforeAll(async () => {
    emulator = await startDynamoDbLocal();
    dynamo = localDynamoDbClient(emulator.endpoint);
    ({ documents, traffic } = instrumentedClient(dynamo));
    openRuns = new DynamoDbOpenRuns({ client: documents, tableName });
    await provisionLifecycleTable(dynamo, tableName);
    const closed = aRun({ runId: 'template' });
    const chunks: Record<string, unknown>[][] = [];
    for (let start = 0; start < CLOSED_RUNS; start += 25) {
      chunks.push(
        Array.from({ length: Math.min(25, CLOSED_RUNS - start) }, () => {
          const runId = randomUUID();
          // A conversational correlation id names its run: no index entry, like most closed runs.
          const correlationId = conversationalCorrelationId('hh-scale', 'conv-scale', runId);
          return runToItem({ ...closed, runId, commandId: runId, correlationId });
        }),
      );
    }
    // BatchWriteItem 25 at a time, 48 requests in flight, straight to DynamoDB Local (no instrumentation).
    const plain = DynamoDBDocumentClient.from(localDynamoDbClient(emulator.endpoint));
    let next = 0;
    const writer = async () => {
      while (next < chunks.length) {
        let requests = (chunks[next++] ?? []).map((Item) => ({ PutRequest: { Item } }));
        while (requests.length > 0) {
          const result = await plain.send(new BatchWriteCommand({ RequestItems: { [tableName]: requests } }));
          requests = (result.UnprocessedItems?.[tableName] ?? []) as typeof requests;
        }
      }
    };
    const startedAt = Date.now();
    await Promise.all(Array.from({ length: 48 }, writer));
    process.stderr.write(`wrote ${CLOSED_RUNS} closed runs in ${Date.now() - startedAt} ms\n`);
    plain.destroy();
  }, 180_000);

  beforeEach(async () => {
    runs = scenario();
    for (const run of Object.values(runs)) {
      await documents.send(new PutCommand({ TableName: tableName, Item: runToItem(run) }));
    }
    resetTraffic(traffic);
  });

  afterAll(async () => {
    dynamo?.destroy();
    await emulator?.stop();
  });

  it('finds exactly the open runs, reading no closed run: 17 Queries, one item read per open run due', async () => {
    const table = await dynamo.send(new DescribeTableCommand({ TableName: tableName }));
    expect(table.Table?.ItemCount).toBe(CLOSED_RUNS + Object.keys(runs).length);
    resetTraffic(traffic);

    const outcome = await runSweep(aSweepEnvelope(), { openRuns });

    expect(findingsOf([outcome], runs)).toEqual(EXPECTED_FINDINGS);
    expect(outcome.result).toMatchObject({
      scanned: FOUND.length,
      expiredAttemptLocks: 3,
      abandoned: 1,
      stuckRunning: 1,
      delegatedOverdue: 1,
      staleReviews: 1,
      link: 1,
    });
    expect(outcome.outcomeCode).toBe('anomalies_found');
    // Read cost: Queries of the indexes only (8 shards × 2 kinds + the review queue), no Scan, no
    // GetItem; every item they returned is one of the open runs due, each read once.
    expect(traffic.commands.filter((command) => command === 'QueryCommand')).toHaveLength(17);
    expect(
      traffic.commands.filter((command) => command !== 'QueryCommand' && command !== 'PutItemCommand'),
    ).toEqual([]);
    expect(traffic.returned.sort()).toEqual(FOUND.map((name) => runs[name]?.runId).sort());
    expect(traffic.scannedCount).toBe(FOUND.length);
    // 17 Queries of a few small items: about half a read unit each. Scanning 100,000 runs of
    // ~700 bytes would cost thousands.
    expect(traffic.readUnits).toBeGreaterThan(0);
    expect(traffic.readUnits).toBeLessThanOrEqual(17 * 0.5 + 1);
  });

  it('closes the abandoned run (Rejected, NeedsReview, attempt_abandoned) and only that one', async () => {
    await runSweep(aSweepEnvelope(), { openRuns });

    const stored = async (name: string) => {
      const item = (
        await documents.send(
          new GetCommand({
            TableName: tableName,
            Key: keys.run(runs[name]?.runId ?? ''),
            ConsistentRead: true,
          }),
        )
      ).Item;
      return item ? { item, run: itemToRun(item) } : undefined;
    };
    const abandoned = await stored('abandoned');
    expect(abandoned?.run).toMatchObject({
      status: 'NeedsReview',
      keyStatus: 'Rejected',
      attempts: 3,
      deadLetter: { reason: 'attempt_abandoned' },
      needsReviewSince: NOW.toISOString(),
    });
    expect(abandoned?.run.lockExpiresAt).toBeUndefined();
    expect(abandoned?.run.signals.map((signal) => `${signal.type}:${signal.code}`)).toEqual([
      'worker_command_failed:attempt_abandoned',
    ]);
    // Out of the open-runs index, into the review queue.
    expect(abandoned?.item).not.toHaveProperty('openShard');
    expect(abandoned?.item).toMatchObject({ reviewQueue: 'NeedsReview' });
    for (const name of ['expired', 'failedRetry', 'live', 'firstAttempt']) {
      expect((await stored(name))?.run).toEqual(runs[name]);
    }
  });

  it('pages with a tiny time budget: each link reads one page and enqueues the next; the chain finds them all once', async () => {
    const sent: CommandEnvelope[] = [];
    const ports: AnomalySweepPorts = {
      openRuns,
      pageSize: 1,
      // No time left after any page: every link reads exactly one.
      timeLeftMs: () => 0,
      continuations: {
        send: async (envelope) => {
          sent.push(envelope);
          return { messageId: `m-${sent.length}` };
        },
      },
    };
    const first = aSweepEnvelope();
    const outcomes = [await runSweep(first, ports)];
    while (sent.length === outcomes.length) {
      const next = sent.at(-1);
      if (!next) break;
      // The continuation travels as an SQS body: it must survive the envelope check as is.
      const parsed = parseEnvelope(JSON.stringify(next));
      expect(parsed.ok).toBe(true);
      if (!parsed.ok) break;
      outcomes.push(await runSweep(parsed.envelope, ports));
      expect(outcomes.length).toBeLessThan(50);
    }

    expect(findingsOf(outcomes, runs)).toEqual(EXPECTED_FINDINGS);
    expect(outcomes.length).toBeGreaterThanOrEqual(FOUND.length);
    expect(outcomes.map((outcome) => outcome.result?.link)).toEqual(outcomes.map((_, index) => index + 1));
    expect(outcomes.reduce((sum, outcome) => sum + Number(outcome.result?.abandoned), 0)).toBe(1);
    expect(outcomes.at(-1)?.result).not.toHaveProperty('continuedAs');
    // One chain: every link names the pass's correlation id and the link before it.
    expect(sent.map((envelope) => envelope.correlationId)).toEqual(sent.map(() => first.correlationId));
    expect(sent[0]?.causationId).toBe(first.commandId);
    expect(traffic.returned.filter((runId) => !FOUND.some((name) => runs[name]?.runId === runId))).toEqual(
      [],
    );
    // A retried link re-sends the same continuation (the lane worker drops the duplicate).
    const again: CommandEnvelope[] = [];
    await runSweep(first, {
      ...ports,
      continuations: {
        send: async (envelope) => {
          again.push(envelope);
          return { messageId: 'x' };
        },
      },
    });
    expect(again[0]?.commandId).toBe(sent[0]?.commandId);
  });

  it('ends a pass that runs out of time without a continuation queue as sweep_incomplete', async () => {
    const outcome = await runSweep(aSweepEnvelope(), { openRuns, pageSize: 1, timeLeftMs: () => 0 });
    expect(outcome.outcomeCode).toBe('sweep_incomplete');
    expect(outcome.signals?.[0]).toMatchObject({ type: 'anomaly_sweep_summary', RequiresHumanReview: true });
  });

  it('closes an abandoned run exactly once when two sweeps race for it', async () => {
    const [a, b] = await Promise.all([
      runSweep(aSweepEnvelope(), { openRuns }),
      runSweep(aSweepEnvelope(), { openRuns }),
    ]);
    expect(Number(a.result?.abandoned) + Number(b.result?.abandoned)).toBe(1);
    const run = itemToRun(
      (
        await documents.send(
          new GetCommand({
            TableName: tableName,
            Key: keys.run(runs.abandoned?.runId ?? ''),
            ConsistentRead: true,
          }),
        )
      ).Item ?? {},
    );
    expect(run.signals.filter((signal) => signal.code === 'attempt_abandoned')).toHaveLength(1);
  });

  it('does not close a run that an attempt takes over between the sweep read and its write', async () => {
    const store = new DynamoDbLifecycleStore({ client: documents, tableName });
    const target = runs.abandoned as RunRecord;
    // The takeover lands after the sweep read the run from the index and before its conditional write.
    const racing: OpenRunsIndex = {
      listReservedDue: (query) => openRuns.listReservedDue(query),
      listDelegatedDue: (query) => openRuns.listDelegatedDue(query),
      listStaleReviews: (query) => openRuns.listStaleReviews(query),
      closeAbandoned: async (seen, closed) => {
        if (seen.runId === target.runId) {
          const takeover = await store.reserveAttempt({
            envelope: anEnvelope({
              commandId: target.commandId,
              commandType: target.commandType,
              lane: 'runtime-ingestion-completed',
              correlationId: target.correlationId,
              householdId: target.householdId,
            }),
            attemptId: 'req-4:late-receive',
            lockExpiresAt: NOW.getTime() + 30_000,
            expiresAt: target.expiresAt,
            now: NOW,
          });
          expect(takeover.outcome).toBe('reserved');
        }
        return openRuns.closeAbandoned(seen, closed);
      },
    };

    const outcome = await runSweep(aSweepEnvelope(), { openRuns: racing });

    expect(outcome.result).toMatchObject({ abandoned: 0 });
    const run = itemToRun(
      (
        await documents.send(
          new GetCommand({ TableName: tableName, Key: keys.run(target.runId), ConsistentRead: true }),
        )
      ).Item ?? {},
    );
    expect(run).toMatchObject({
      keyStatus: 'Reserved',
      status: 'Running',
      attempts: 4,
      lockOwner: 'req-4:late-receive',
    });
    expect(run.deadLetter).toBeUndefined();
  });
});
