/**
 * Sends the planned commands in parallel, the way clients and producers do: conversation messages
 * (a member's token of the household) and approval decisions (an approver's) over the local API,
 * some with an Idempotency-Key, retried, some retries racing the first request; run reads as the
 * operator (SigV4 with the local operator credentials); and envelopes — valid, poison, duplicated 1–5× — straight to the lane
 * queues with SendMessage. Every send waits while the stack is down; a keyed request or a producer
 * send that fails (the stack was killed under it) is retried after the restart.
 */
import { randomUUID } from 'node:crypto';
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import {
  asciiJson,
  type CommandEnvelope,
  ENVELOPE_SCHEMA_VERSION,
  serializeEnvelope,
} from '#contracts/envelope.js';
import type { LaneName } from '#contracts/lanes.js';
import type { LocalApi, LocalApiCall } from '#local/demo/local-api.js';
import { DRILL_FLAKY, DRILL_HANG } from '#local/stack/drill-commands.js';
import type { Ledger } from './ledger.js';
import type { CommandKind, PlannedCommand, SoakPlan } from './plan.js';
import type { Random } from './random.js';
import { sleep } from './stack-process.js';

const INGESTION: LaneName = 'runtime-ingestion-completed';
const MESSAGES: LaneName = 'runtime-agent-message-posted';
const RETRY_PAUSE_MS = 300;
/** Each API request's limit (give connectLocalApi this). */
export const REQUEST_TIMEOUT_MS = 30_000;

/** Whether the stack is up; sends wait on it. */
export class StackGate {
  #up = false;
  #waiters: (() => void)[] = [];

  public get isUp(): boolean {
    return this.#up;
  }

  public open(): void {
    this.#up = true;
    for (const resolve of this.#waiters.splice(0)) resolve();
  }

  public close(): void {
    this.#up = false;
  }

  public wait(): Promise<void> {
    return this.#up ? Promise.resolve() : new Promise((resolve) => this.#waiters.push(resolve));
  }
}

export interface DriveOptions {
  readonly plan: SoakPlan;
  readonly random: Random;
  /** The stack's API as its users reach it (tokens, SigV4); requests limited to REQUEST_TIMEOUT_MS. */
  readonly api: LocalApi;
  readonly sqs: SQSClient;
  readonly queueUrls: Readonly<Record<LaneName, string>>;
  readonly maxReceiveCount: number;
  readonly gate: StackGate;
  readonly ledger: Ledger;
  /** Commands in flight at once. */
  readonly concurrency: number;
  /** Called (not awaited) when the send index reaches a kill moment. */
  readonly kill: (atIndex: number) => void;
  /** Sending pauses while the lanes hold more visible messages than this. */
  readonly backlog: () => number;
  readonly maxBacklog: number;
  /** A keyed request or a producer send is given up after trying this long. */
  readonly retryForMs: number;
  readonly aborted: () => boolean;
}

/** Sends every planned command (and the follow-up approval decisions); resolves when all are done. */
export async function drive(options: DriveOptions): Promise<void> {
  const { plan, ledger } = options;
  const background = new Set<Promise<void>>();
  const track = (task: Promise<void>): void => {
    const tracked = task.catch((error: unknown) => ledger.noteError(`background task: ${String(error)}`));
    background.add(tracked);
    void tracked.finally(() => background.delete(tracked));
  };
  const killAt = [...plan.killAt];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (!options.aborted()) {
      while (options.backlog() > options.maxBacklog && !options.aborted()) await sleep(200);
      const index = next++;
      const command = plan.commands[index];
      if (!command) return;
      while (killAt.length > 0 && (killAt[0] ?? Number.POSITIVE_INFINITY) <= index) {
        killAt.shift();
        options.kill(index);
      }
      ledger.counts.sent += 1;
      await send(options, command, track);
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, worker));
  while (background.size > 0) await Promise.all([...background]);
}

async function send(
  options: DriveOptions,
  command: PlannedCommand,
  track: (task: Promise<void>) => void,
): Promise<void> {
  if (command.kind === 'api.message' || command.kind === 'api.message.keyed') {
    await postMessage(options, command, track);
    return;
  }
  const { queue, body } = producerMessage(options, command);
  const poison = command.kind.startsWith('poison.');
  const accept = () =>
    options.ledger.accept({ commandId: command.token, kind: command.kind, via: 'producer', poison });
  if (await produce(options, queue, body)) accept();
  for (const delayMs of command.copyDelaysMs) {
    options.ledger.counts.duplicateCopies += 1;
    track(
      sleep(delayMs).then(async () => {
        if (await produce(options, queue, body)) accept();
      }),
    );
  }
}

// ---------------------------------------------------------------------------------------------
// Producers

/** SendMessage until SQS acknowledges it (after restarts), or `retryForMs` ran out. */
async function produce(options: DriveOptions, queueUrl: string, body: string): Promise<boolean> {
  const { gate, ledger, sqs } = options;
  const giveUpAt = Date.now() + options.retryForMs;
  while (Date.now() < giveUpAt && !options.aborted()) {
    await gate.wait();
    ledger.counts.requests += 1;
    try {
      await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: body }));
      return true;
    } catch (error) {
      if (gate.isUp) ledger.noteError(`SendMessage while the stack was up: ${describe(error)}`);
      await sleep(RETRY_PAUSE_MS);
    }
  }
  ledger.counts.unacknowledged += 1;
  return false;
}

function producerMessage(
  options: DriveOptions,
  command: PlannedCommand,
): { readonly queue: string; readonly body: string } {
  const { queueUrls, maxReceiveCount } = options;
  const envelope = (
    commandType: string,
    lane: LaneName,
    payload: Record<string, unknown>,
  ): CommandEnvelope => ({
    schemaVersion: ENVELOPE_SCHEMA_VERSION,
    commandId: command.token,
    commandType,
    lane,
    correlationId: `soak:${command.token}`,
    householdId: `soak-hh-${command.index % 20}`,
    issuedAt: new Date().toISOString(),
    payload,
  });
  const valid = (commandType: string, lane: LaneName, payload: Record<string, unknown>) => ({
    queue: queueUrls[lane],
    body: serializeEnvelope(envelope(commandType, lane, payload)),
  });
  const ingestion = (errors: number) => ({
    source: 'soak-feed-é',
    batchId: `batch-${command.index}`,
    recordsReceived: 100,
    recordsImported: 100 - errors,
    errorCount: errors,
  });
  switch (command.kind) {
    case 'drill.ok':
    case 'drill.flaky':
    case 'drill.failing':
      return valid(DRILL_FLAKY, INGESTION, { failTimes: command.failTimes });
    case 'drill.hang_final':
      return valid(DRILL_HANG, INGESTION, {
        failTimes: command.failTimes,
        hangOnAttempts: [maxReceiveCount],
      });
    case 'drill.hang_first':
      return valid(DRILL_HANG, INGESTION, { hangOnAttempts: [1] });
    case 'unsupported':
      return command.laneIndex === 0
        ? valid('drill.unsupported', INGESTION, {})
        : valid('ingestion.completed', MESSAGES, ingestion(0));
    case 'ingestion.ok':
      return valid('ingestion.completed', INGESTION, ingestion(1));
    case 'ingestion.over_threshold':
      return valid('ingestion.completed', INGESTION, ingestion(20));
    case 'poison.invalid_json':
      return { queue: queueUrls[command.laneIndex === 0 ? INGESTION : MESSAGES], body: invalidJson(command) };
    case 'poison.invalid_envelope':
      return invalidEnvelope(options, command, envelope);
    default:
      throw new Error(`not a producer command: ${command.kind satisfies CommandKind}`);
  }
}

function invalidJson(command: PlannedCommand): string {
  const token = command.token;
  switch (command.variant) {
    case 0:
      return `{"commandId":"${token}","commandType":"drill.flaky"`;
    case 1:
      return `not json at all ${token}`;
    case 2:
      return `{'commandId': '${token}'}`;
    case 3:
      return `{"commandId":"${token}","payload":{"note":"café"},}`;
    default:
      return `${token}`;
  }
}

function invalidEnvelope(
  options: DriveOptions,
  command: PlannedCommand,
  envelope: (
    commandType: string,
    lane: LaneName,
    payload: Record<string, unknown>,
  ) => Record<string, unknown>,
): { readonly queue: string; readonly body: string } {
  const lane = command.laneIndex === 0 ? INGESTION : MESSAGES;
  const other = lane === INGESTION ? MESSAGES : INGESTION;
  const base = envelope('ingestion.completed', lane, {});
  const queue = options.queueUrls[lane];
  switch (command.variant) {
    case 0: {
      const { lane: _lane, ...withoutLane } = base;
      return { queue, body: asciiJson(withoutLane) };
    }
    case 1:
      return { queue, body: asciiJson({ ...base, schemaVersion: 99 }) };
    case 2:
      return { queue, body: asciiJson({ ...base, commandId: `not-a-uuid-${command.token}` }) };
    case 3:
      // A supported type whose payload does not fit: poison, not a handler failure.
      return {
        queue: options.queueUrls[INGESTION],
        body: asciiJson(envelope(DRILL_FLAKY, INGESTION, { failTimes: 'many' })),
      };
    default:
      // The envelope names another lane than the queue it was sent to.
      return { queue, body: asciiJson({ ...base, lane: other }) };
  }
}

// ---------------------------------------------------------------------------------------------
// API clients

interface Answer {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

async function postMessage(
  options: DriveOptions,
  command: PlannedCommand,
  track: (task: Promise<void>) => void,
): Promise<void> {
  const householdId = `soak-hh-${command.index % 20}`;
  const conversationId = `soak-conv-${command.index % 50}`;
  const path = `/api/v1/agent/conversations/${conversationId}/messages`;
  const body = { text: command.text };
  const member = options.api.household(householdId, 'member');
  const highImpact = command.highImpact;
  let decided = false;
  const onAccepted = (commandId: string, clientKey: string | undefined) => {
    options.ledger.accept({
      commandId,
      kind: command.kind,
      via: 'api',
      poison: false,
      highImpact,
      ...(clientKey ? { clientKey } : {}),
    });
    if (command.decision && !decided) {
      decided = true;
      track(decideLater(options, command, { householdId, conversationId, messageCommandId: commandId }));
    }
  };
  if (command.kind === 'api.message') {
    const answer = await post(options, member, path, body, undefined);
    const commandId = acceptedId(answer);
    if (commandId) onAccepted(commandId, undefined);
    return;
  }
  const key = `soak-${command.token}`;
  const once = async () => {
    const commandId = acceptedId(await post(options, member, path, body, key));
    if (commandId) onAccepted(commandId, key);
  };
  options.ledger.counts.clientRetries += command.retries.length;
  const racing = command.retries.filter((r) => r.concurrent).map((r) => sleep(r.delayMs).then(once));
  await once();
  for (const retry of command.retries.filter((r) => !r.concurrent)) {
    await sleep(retry.delayMs);
    await once();
  }
  await Promise.all(racing);
}

/** Once the message completed, decides the approval it requested (and sometimes decides it again). */
async function decideLater(
  options: DriveOptions,
  command: PlannedCommand,
  ids: { readonly householdId: string; readonly conversationId: string; readonly messageCommandId: string },
): Promise<void> {
  const run = await waitForCompletedRun(options, ids.messageCommandId);
  const approvalIds = (run?.result as { approvalIds?: unknown } | undefined)?.approvalIds;
  const approvalId = Array.isArray(approvalIds) ? approvalIds[0] : undefined;
  if (typeof approvalId !== 'string' || !command.decision) {
    options.ledger.counts.decisionsSkipped += 1;
    options.ledger.noteError(
      `no approval decision for message ${ids.messageCommandId}: its run did not complete with an approval request in time`,
    );
    return;
  }
  const decision = command.decision;
  const decide = async (kind: 'api.approval' | 'api.approval.second') => {
    const key = `soak-apr-${randomUUID()}`;
    const path = `/api/v1/agent/conversations/${ids.conversationId}/approvals/${approvalId}`;
    // decidedBy is the approver's token subject.
    const body = { decision, rationale: 'soak ✅ decision' };
    const approver = options.api.household(ids.householdId, 'approver');
    const commandId = acceptedId(await post(options, approver, path, body, key));
    if (commandId) {
      options.ledger.accept({
        commandId,
        kind,
        via: 'api',
        poison: false,
        clientKey: key,
        approvalId,
        decision,
      });
    }
  };
  await decide('api.approval');
  if (command.secondDecision) {
    await sleep(options.random.int(0, 2000));
    await decide('api.approval.second');
  }
}

async function waitForCompletedRun(
  options: DriveOptions,
  commandId: string,
): Promise<Record<string, unknown> | undefined> {
  const giveUpAt = Date.now() + options.retryForMs;
  while (Date.now() < giveUpAt && !options.aborted()) {
    await options.gate.wait();
    const answer = await request(
      options.api.operator,
      'GET',
      `/api/v1/runs/${commandId}`,
      undefined,
      undefined,
    );
    if ('status' in answer && answer.status === 200) {
      const status = answer.body.status;
      const keyStatus = (answer.body.idempotencyKey as { status?: unknown } | undefined)?.status;
      if (status === 'Completed') return answer.body;
      // Finished some other way: there is nothing to decide.
      if (keyStatus === 'Completed' || keyStatus === 'Rejected') return undefined;
    }
    await sleep(1_000);
  }
  return undefined;
}

/**
 * POSTs until the API answers: a keyed request is retried (same key) after a network error or a
 * 5xx; a request without a key is sent once, as a client without one cannot retry safely.
 */
async function post(
  options: DriveOptions,
  as: LocalApiCall,
  path: string,
  body: unknown,
  key: string | undefined,
): Promise<Answer | undefined> {
  const { gate, ledger } = options;
  const giveUpAt = Date.now() + options.retryForMs;
  while (Date.now() < giveUpAt && !options.aborted()) {
    await gate.wait();
    ledger.counts.requests += 1;
    const answer = await request(as, 'POST', path, body, key);
    if ('status' in answer) {
      if (answer.status < 300) return answer;
      if (answer.status < 500) {
        ledger.counts.refused += 1;
        ledger.noteError(`POST ${path} → ${answer.status} ${JSON.stringify(answer.body).slice(0, 200)}`);
        return answer;
      }
      ledger.counts.serverErrors += 1;
      ledger.noteError(`POST ${path} → ${answer.status} ${JSON.stringify(answer.body).slice(0, 200)}`);
    } else if (gate.isUp) {
      ledger.noteError(`POST ${path} while the stack was up: ${answer.error}`);
    }
    if (key === undefined) break;
    await sleep(RETRY_PAUSE_MS);
  }
  ledger.counts.unacknowledged += 1;
  return undefined;
}

async function request(
  as: LocalApiCall,
  method: 'GET' | 'POST',
  path: string,
  body: unknown,
  key: string | undefined,
): Promise<Answer | { readonly error: string }> {
  try {
    const answer = await as(method, path, body, key === undefined ? {} : { 'idempotency-key': key });
    const parsed =
      typeof answer.body === 'object' && answer.body !== null
        ? (answer.body as Record<string, unknown>)
        : { text: String(answer.body ?? '').slice(0, 200) };
    return { status: answer.status, body: parsed };
  } catch (error) {
    return { error: describe(error) };
  }
}

function acceptedId(answer: Answer | undefined): string | undefined {
  if (!answer || answer.status >= 300) return undefined;
  const commandId = answer.body.commandId;
  return typeof commandId === 'string' ? commandId : undefined;
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const cause = error.cause instanceof Error ? `: ${error.cause.message}` : '';
    return `${error.name}: ${error.message}${cause}`;
  }
  return String(error);
}
