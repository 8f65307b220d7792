/**
 * The guided demo: a scripted mix of commands sent through the public API as the
 * household's users send them (a member's token to post, an approver's to decide;
 * and, for what the API would refuse, straight onto a lane as a misbehaving
 * producer would), what the API refuses to a caller without the right token, then
 * every command's final state read back as the household reads it
 * (GET /api/v1/agent/runs/{runId}), the dead-letter queues, and the review queue
 * (an operator's read, SigV4-signed with the local operator credentials).
 */
import { randomUUID } from 'node:crypto';
import { ReceiveMessageCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { ENVELOPE_SCHEMA_VERSION } from '#contracts/envelope.js';
import { localSqsClient } from '../emulators/clients.js';
import { DRILL_FLAKY } from '../stack/drill-commands.js';
import type { LocalStackInfo } from '../stack/start-local-stack.js';
import { connectLocalApi } from './local-api.js';

export interface DemoRow {
  readonly label: string;
  readonly via: 'API' | 'producer';
  readonly commandId: string | null;
  readonly httpStatus: number | null;
  readonly status: string;
  readonly keyStatus: string | null;
  readonly attempts: number | null;
  readonly outcome: string;
  readonly signals: readonly string[];
  readonly expected: string;
  readonly asExpected: boolean;
}

export interface DemoDeadLetter {
  readonly lane: string;
  readonly reason: string;
  readonly commandId: string | null;
  readonly rationale: string;
  readonly fromThisDemo: boolean;
}

export interface DemoReviewItem {
  readonly runId: string;
  readonly commandType: string;
  readonly needsReviewSince: string;
  readonly signal: string;
  readonly fromThisDemo: boolean;
}

export interface DemoReport {
  readonly rows: readonly DemoRow[];
  readonly deadLetters: readonly DemoDeadLetter[];
  readonly reviewQueue: readonly DemoReviewItem[];
  readonly allAsExpected: boolean;
  readonly elapsedMs: number;
}

interface RunView {
  status: string;
  commandType: string;
  attempts: number;
  idempotencyKey: { status: string };
  stages: { outcomeCode?: string }[];
  signals: { type: string; code: string }[];
  result?: { approvalIds?: string[] };
  deadLetter?: { reason: string };
}

const HOUSEHOLD = 'demo-household';
/** Another household: its users must not see this one's runs. */
const OTHER_HOUSEHOLD = 'demo-neighbours';

export async function runDemo(options: {
  readonly apiUrl: string;
  readonly timeoutMs: number;
  readonly progress: (line: string) => void;
}): Promise<DemoReport> {
  const started = Date.now();
  const { apiUrl, progress } = options;
  const info = (await (await fetch(`${apiUrl}/_local/info`)).json()) as LocalStackInfo;
  const api = await connectLocalApi(apiUrl, info);
  const member = api.household(HOUSEHOLD, 'member');
  const approver = api.household(HOUSEHOLD, 'approver');
  const sqs = localSqsClient(info.sqsEndpoint);
  const conversationId = `demo-${randomUUID().slice(0, 8)}`;
  const lane = (name: string) => {
    const queues = info.lanes[name];
    if (!queues) throw new Error(`the local stack has no lane ${name}`);
    return queues;
  };
  /** A POST as `as` (the member unless said); the answer's body as an object. */
  const post = async (
    path: string,
    body: unknown,
    headers: Record<string, string> = {},
    as: typeof member = member,
  ) => {
    const answer = await as('POST', path, body, headers);
    return { status: answer.status, body: asObject(answer.body) };
  };
  const produce = async (laneName: string, body: string) =>
    sqs.send(new SendMessageCommand({ QueueUrl: lane(laneName).queueUrl, MessageBody: body }));
  const envelope = (fields: Record<string, unknown>) => {
    const commandId = randomUUID();
    return {
      commandId,
      body: JSON.stringify({
        schemaVersion: ENVELOPE_SCHEMA_VERSION,
        commandId,
        correlationId: `demo:${commandId}`,
        householdId: HOUSEHOLD,
        issuedAt: new Date().toISOString(),
        ...fields,
      }),
    };
  };
  const readRun = async (commandId: string): Promise<RunView | undefined> => {
    const answer = await member('GET', `/api/v1/agent/runs/${commandId}`);
    return answer.status === 200 ? (answer.body as RunView) : undefined;
  };
  const deadline = started + options.timeoutMs;
  const waitForRun = async (commandId: string, label: string): Promise<RunView | undefined> => {
    let announced = false;
    while (Date.now() < deadline) {
      const run = await readRun(commandId);
      if (run && (run.idempotencyKey.status === 'Completed' || run.idempotencyKey.status === 'Rejected'))
        return run;
      if (!announced && Date.now() - started > 3000) {
        progress(`  waiting for "${label}" (${run ? `${run.status}, attempt ${run.attempts}` : 'queued'})…`);
        announced = true;
      }
      await sleep(250);
    }
    return readRun(commandId);
  };

  progress(`demo: conversation ${conversationId} on ${apiUrl}`);
  const messagesPath = `/api/v1/agent/conversations/${conversationId}/messages`;
  const pending: {
    label: string;
    via: DemoRow['via'];
    commandId: string;
    http: number | null;
    expected: string;
    check: (run: RunView) => boolean;
  }[] = [];
  const completedWith = (outcome: string) => (run: RunView) =>
    run.status === 'Completed' && run.stages.at(-1)?.outcomeCode === outcome;

  // 1. A good command through the API.
  const good = await post(messagesPath, { text: 'remind me to check the boiler pressure' });
  pending.push({
    label: 'good message',
    via: 'API',
    commandId: String(good.body.commandId),
    http: good.status,
    expected: 'Completed (message_recorded)',
    check: completedWith('message_recorded'),
  });

  // 2. A client retry with the same Idempotency-Key: one command, one run.
  const key = `demo-${randomUUID()}`;
  const first = await post(messagesPath, { text: 'categorize last week' }, { 'idempotency-key': key });
  const retry = await post(messagesPath, { text: 'categorize last week' }, { 'idempotency-key': key });
  const sameCommand = first.body.commandId === retry.body.commandId;
  pending.push({
    label: `client retry, same Idempotency-Key (${sameCommand ? 'same' : 'DIFFERENT'} commandId)`,
    via: 'API',
    commandId: String(first.body.commandId),
    http: retry.status,
    expected: 'Completed once; retry answered 202 with the same commandId',
    check: (run) => sameCommand && run.status === 'Completed' && run.attempts === 1,
  });

  // 3. A high-impact proposal: an approval request, never executed on its own.
  const proposal = await post(messagesPath, { text: 'please pay 120 to the plumber' });
  const proposalId = String(proposal.body.commandId);

  // 4. The same envelope delivered twice by a producer: one run, the duplicate skipped.
  const duplicate = envelope({
    commandType: 'ingestion.completed',
    lane: 'runtime-ingestion-completed',
    payload: {
      source: 'bank-feed',
      batchId: 'demo-1',
      recordsReceived: 120,
      recordsImported: 119,
      errorCount: 1,
    },
  });
  await produce('runtime-ingestion-completed', duplicate.body);
  await produce('runtime-ingestion-completed', duplicate.body);
  pending.push({
    label: 'same commandId delivered twice',
    via: 'producer',
    commandId: duplicate.commandId,
    http: null,
    expected: 'Completed, 1 attempt (duplicate skipped)',
    check: (run) => completedWith('ingestion_recorded')(run) && run.attempts === 1,
  });

  // 5. Invalid JSON at the API: refused, nothing enqueued.
  const badJson = await post(messagesPath, '{"text": ');
  const apiRows: DemoRow[] = [
    {
      label: 'invalid JSON at the API',
      via: 'API',
      commandId: null,
      httpStatus: badJson.status,
      status: `HTTP ${badJson.status}`,
      keyStatus: null,
      attempts: null,
      outcome: `${String(badJson.body.error)} at ${String(badJson.body.fieldPath)}`,
      signals: [],
      expected: '400 invalid_json, nothing enqueued',
      asExpected: badJson.status === 400 && badJson.body.error === 'invalid_json',
    },
  ];

  // Refused before anything is enqueued: no token (the gateway's 401), another household's user
  // reading this household's run (404, as if it did not exist), a member deciding an approval.
  const anonymous = await post(messagesPath, { text: 'hello from nobody' }, {}, api.anonymous);
  apiRows.push(
    refusedRow('message without a token', anonymous, '401 Unauthorized (the gateway), nothing enqueued', 401),
  );
  const neighbour = await api.household(OTHER_HOUSEHOLD)(
    'GET',
    `/api/v1/agent/runs/${String(good.body.commandId)}`,
  );
  apiRows.push(
    refusedRow(
      "another household reads this household's run",
      { status: neighbour.status, body: asObject(neighbour.body) },
      '404 run_not_found',
      404,
      'run_not_found',
    ),
  );

  // 6-7. Poison from a misbehaving producer: straight to the DLQ with the reason.
  const poisonJson = `{"demo": "${conversationId}", broken`;
  await produce('runtime-agent-message-posted', poisonJson);
  const invalidEnvelope = envelope({
    commandType: 'agent.message.posted',
    lane: 'runtime-agent-message-posted',
    payload: { text: 'x' },
  });
  const withoutHousehold = JSON.parse(invalidEnvelope.body);
  delete withoutHousehold.householdId;
  await produce('runtime-agent-message-posted', JSON.stringify(withoutHousehold));

  // 8. An unsupported command type: NeedsReview with a signal, retried, then dead-lettered.
  const unsupported = envelope({
    commandType: 'agent.unknown.action',
    lane: 'runtime-agent-message-posted',
    conversationId,
    payload: {},
  });
  await produce('runtime-agent-message-posted', unsupported.body);
  pending.push({
    label: 'unsupported command type',
    via: 'producer',
    commandId: unsupported.commandId,
    http: null,
    expected: 'dead-lettered unsupported_command_type, key Rejected',
    check: (run) =>
      run.idempotencyKey.status === 'Rejected' && run.deadLetter?.reason === 'unsupported_command_type',
  });

  // 9. A handler that fails twice, then succeeds: the run recovers and keeps both signals.
  const flaky = envelope({
    commandType: DRILL_FLAKY,
    lane: 'runtime-ingestion-completed',
    payload: { failTimes: 2 },
  });
  await produce('runtime-ingestion-completed', flaky.body);
  pending.push({
    label: 'handler fails twice, then succeeds',
    via: 'producer',
    commandId: flaky.commandId,
    http: null,
    expected: 'Completed on attempt 3, 2 signals kept',
    check: (run) => run.status === 'Completed' && run.attempts === 3 && run.signals.length === 2,
  });

  // 10. An ingestion batch with too many errors: NeedsReview with a signal.
  const noisy = envelope({
    commandType: 'ingestion.completed',
    lane: 'runtime-ingestion-completed',
    payload: {
      source: 'card-feed',
      batchId: 'demo-2',
      recordsReceived: 50,
      recordsImported: 40,
      errorCount: 10,
    },
  });
  await produce('runtime-ingestion-completed', noisy.body);
  pending.push({
    label: 'ingestion over the error threshold',
    via: 'producer',
    commandId: noisy.commandId,
    http: null,
    expected: 'NeedsReview + ingestion_error_ratio_exceeded',
    check: (run) =>
      run.status === 'NeedsReview' && run.signals.some((s) => s.type === 'ingestion_error_ratio_exceeded'),
  });

  // The approval follows its proposal: read the approval id from the proposal's run.
  const proposalRun = await waitForRun(proposalId, 'high-impact proposal');
  pending.push({
    label: 'high-impact proposal',
    via: 'API',
    commandId: proposalId,
    http: proposal.status,
    expected: 'Completed (approval_requested), nothing executed',
    check: completedWith('approval_requested'),
  });
  const approvalId = proposalRun?.result?.approvalIds?.[0];
  if (approvalId) {
    const approvalPath = `/api/v1/agent/conversations/${conversationId}/approvals/${approvalId}`;
    const byMember = await post(approvalPath, { decision: 'approve' });
    apiRows.push(
      refusedRow(
        'approval decided by a member (not an approver)',
        byMember,
        '403 approver_role_required, nothing enqueued',
        403,
        'approver_role_required',
      ),
    );
    // decidedBy is the approver's token subject.
    const approve = await post(approvalPath, { decision: 'approve' }, {}, approver);
    pending.push({
      label: 'approval of the proposal',
      via: 'API',
      commandId: String(approve.body.commandId),
      http: approve.status,
      expected: 'Completed (action_executed)',
      check: completedWith('action_executed'),
    });
    await waitForRun(String(approve.body.commandId), 'approval');
    const again = await post(approvalPath, { decision: 'reject' }, {}, approver);
    pending.push({
      label: 'second decision on the same approval',
      via: 'API',
      commandId: String(again.body.commandId),
      http: again.status,
      expected: 'NeedsReview + approval_already_decided',
      check: (run) =>
        run.status === 'NeedsReview' && run.signals.some((s) => s.type === 'approval_already_decided'),
    });
  }

  const rows: DemoRow[] = [];
  for (const item of pending) {
    const run = await waitForRun(item.commandId, item.label);
    rows.push({
      label: item.label,
      via: item.via,
      commandId: item.commandId,
      httpStatus: item.http,
      status: run?.status ?? 'no run',
      keyStatus: run?.idempotencyKey.status ?? null,
      attempts: run?.attempts ?? null,
      outcome: run?.deadLetter?.reason ?? run?.stages.at(-1)?.outcomeCode ?? '',
      signals: run?.signals.map((s) => s.type) ?? [],
      expected: item.expected,
      asExpected: run ? item.check(run) : false,
    });
  }
  rows.push(...apiRows);

  // Dead letters: peek every lane DLQ (visibility 0, so nothing is consumed).
  const demoIds = new Set(rows.map((r) => r.commandId).filter((id): id is string => id !== null));
  demoIds.add(invalidEnvelope.commandId);
  const deadLetters: DemoDeadLetter[] = [];
  const waitDeadLetters = async () => {
    const found = await peekDeadLetters(sqs, info, demoIds, poisonJson);
    const mine = found.filter((d) => d.fromThisDemo);
    return {
      found,
      ready:
        mine.some((d) => d.reason === 'invalid_json') && mine.some((d) => d.reason === 'invalid_envelope'),
    };
  };
  let letters = await waitDeadLetters();
  while (!letters.ready && Date.now() < deadline) {
    await sleep(250);
    letters = await waitDeadLetters();
  }
  deadLetters.push(...letters.found);
  for (const [label, reason] of [
    ['invalid JSON from a producer', 'invalid_json'],
    ['invalid envelope from a producer', 'invalid_envelope'],
  ] as const) {
    const letter = letters.found.find((d) => d.fromThisDemo && d.reason === reason);
    rows.push({
      label,
      via: 'producer',
      commandId: letter?.commandId ?? null,
      httpStatus: null,
      status: letter ? 'dead-lettered' : 'not found',
      keyStatus: null,
      attempts: null,
      outcome: letter ? `${reason}: ${letter.rationale.slice(0, 60)}` : '',
      signals: [],
      expected: `DLQ at once with reason ${reason}`,
      asExpected: letter !== undefined,
    });
  }

  const queueAnswer = await api.operator('GET', '/api/v1/review-queue?limit=100');
  if (queueAnswer.status !== 200) {
    throw new Error(
      `GET /api/v1/review-queue answered ${queueAnswer.status}: ${JSON.stringify(queueAnswer.body)}`,
    );
  }
  const queue = queueAnswer.body as {
    runs: { runId: string; commandType: string; needsReviewSince: string; signals: { type: string }[] }[];
  };
  const reviewQueue = queue.runs.map((run) => ({
    runId: run.runId,
    commandType: run.commandType,
    needsReviewSince: run.needsReviewSince,
    signal: run.signals.at(-1)?.type ?? '',
    fromThisDemo: demoIds.has(run.runId),
  }));
  sqs.destroy();
  return {
    rows,
    deadLetters,
    reviewQueue,
    allAsExpected: rows.every((r) => r.asExpected),
    elapsedMs: Date.now() - started,
  };
}

async function peekDeadLetters(
  sqs: ReturnType<typeof localSqsClient>,
  info: LocalStackInfo,
  demoIds: ReadonlySet<string>,
  poisonBody: string,
): Promise<DemoDeadLetter[]> {
  const letters: DemoDeadLetter[] = [];
  for (const [laneName, queues] of Object.entries(info.lanes)) {
    const seen = new Set<string>();
    for (let page = 0; page < 20; page++) {
      const result = await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: queues.dlqUrl,
          MaxNumberOfMessages: 10,
          VisibilityTimeout: 0,
          MessageAttributeNames: ['All'],
          WaitTimeSeconds: 0,
        }),
      );
      const fresh = (result.Messages ?? []).filter((m) => m.MessageId && !seen.has(m.MessageId));
      if (fresh.length === 0) break;
      for (const message of fresh) {
        seen.add(message.MessageId ?? '');
        const attribute = (name: string) => message.MessageAttributes?.[name]?.StringValue ?? '';
        const commandId = attribute('commandId') || null;
        letters.push({
          lane: laneName,
          reason: attribute('reason') || '(none: redriven by SQS)',
          commandId,
          rationale: attribute('rationale'),
          fromThisDemo: (commandId !== null && demoIds.has(commandId)) || message.Body === poisonBody,
        });
      }
    }
  }
  return letters;
}

/** Prints the report as three tables. */
export function printDemoReport(report: DemoReport, print: (line: string) => void): void {
  const table = (headers: string[], rows: string[][]) => {
    const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
    const line = (cells: string[]) =>
      cells
        .map((c, i) => c.padEnd(widths[i] ?? 0))
        .join('  ')
        .trimEnd();
    print(line(headers));
    print(line(widths.map((w) => '-'.repeat(w))));
    for (const row of rows) print(line(row));
  };
  print('\nCommands (final state read back as the household reads it: GET /api/v1/agent/runs/{runId})');
  table(
    ['', 'scenario', 'via', 'commandId', 'HTTP', 'run', 'key', 'tries', 'outcome', 'signals'],
    report.rows.map((r) => [
      r.asExpected ? '✓' : '✗',
      r.label,
      r.via,
      r.commandId?.slice(0, 8) ?? '-',
      r.httpStatus === null ? '-' : String(r.httpStatus),
      r.status,
      r.keyStatus ?? '-',
      r.attempts === null ? '-' : String(r.attempts),
      r.outcome,
      collapseRepeats(r.signals) || '-',
    ]),
  );
  const mismatched = report.rows.filter((r) => !r.asExpected);
  for (const r of mismatched) print(`✗ ${r.label}: expected ${r.expected}`);

  const mine = report.deadLetters.filter((d) => d.fromThisDemo);
  print(`\nDead-letter queues (${mine.length} from this demo, ${report.deadLetters.length} in total)`);
  table(
    ['lane', 'reason', 'commandId', 'rationale'],
    mine.map((d) => [d.lane, d.reason, d.commandId?.slice(0, 8) ?? '-', d.rationale.slice(0, 70)]),
  );
  const review = report.reviewQueue.filter((r) => r.fromThisDemo);
  print(
    `\nReview queue, oldest first (${review.length} from this demo, ${report.reviewQueue.length} in total)`,
  );
  table(
    ['runId', 'commandType', 'since', 'latest signal'],
    review.map((r) => [r.runId.slice(0, 8), r.commandType, r.needsReviewSince, r.signal]),
  );
  print(
    `\n${report.allAsExpected ? 'Every scenario ended as expected' : `${mismatched.length} scenario(s) did not end as expected`} (${(report.elapsedMs / 1000).toFixed(1)} s).`,
  );
}

/** A request the API must refuse: the row says what it answered. */
function refusedRow(
  label: string,
  answer: { readonly status: number; readonly body: Record<string, unknown> },
  expected: string,
  status: number,
  error?: string,
): DemoRow {
  const code = typeof answer.body.error === 'string' ? answer.body.error : String(answer.body.message ?? '');
  return {
    label,
    via: 'API',
    commandId: null,
    httpStatus: answer.status,
    status: `HTTP ${answer.status}`,
    keyStatus: null,
    attempts: null,
    outcome: code,
    signals: [],
    expected,
    asExpected: answer.status === status && (error === undefined || answer.body.error === error),
  };
}

function asObject(body: unknown): Record<string, unknown> {
  return typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {};
}

/** `a,a,a,b` → `a×3,b`. */
function collapseRepeats(values: readonly string[]): string {
  const counts = new Map<string, number>();
  for (const value of values) counts.set(value, (counts.get(value) ?? 0) + 1);
  return [...counts].map(([value, n]) => (n > 1 ? `${value}×${n}` : value)).join(',');
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
