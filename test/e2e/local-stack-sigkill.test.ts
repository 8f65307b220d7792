import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  GetQueueAttributesCommand,
  type Message,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { afterAll, describe, expect, it } from 'vitest';
import { ENVELOPE_SCHEMA_VERSION } from '#contracts/envelope.js';
import { connectLocalApi, type LocalApi } from '#local/demo/local-api.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '#local/emulators/clients.js';
import type { LocalStackInfo } from '#local/stack/start-local-stack.js';
import { projectRoot, runRunlaneBin } from '../support/local-cli.js';

/**
 * `runlane local` (what `npm start` runs) on a data folder, its whole process group (Node and
 * DynamoDB Local's JVM) killed with SIGKILL while commands are being accepted, then restarted on
 * the same folder: nothing acknowledged is lost, and `runlane dlq list|show` and a `runlane replay`
 * dry run read the restored dead letters. (That every command also reaches a terminal state after such a kill is the lane
 * worker's part, checked by the chaos soak.)
 */
const LANE = 'runtime-agent-message-posted';
const groups: number[] = [];

afterAll(() => {
  for (const group of groups) killGroup(group);
});

interface Stack {
  readonly child: ChildProcess;
  readonly info: LocalStackInfo;
  readonly exited: Promise<void>;
}

interface RunView {
  readonly status: string;
  readonly idempotencyKey: { readonly status: string };
}

interface DeadLetterRow {
  readonly lane: string;
  readonly messageId: string;
  readonly commandId: string | null;
  readonly reason: string;
}

describe('runlane local after kill -9 of its process group', () => {
  it('keeps every acknowledged command and dead letter, and runlane dlq list, dlq show and a replay dry run work on the restored data', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'runlane-sigkill-'));
    try {
      const first = await startStack(dataDir);
      const api = first.info.apiUrl;
      const producer = sqsClient(first.info.sqsEndpoint);
      const queueUrl = first.info.lanes[LANE]?.queueUrl ?? '';

      // Finished before the kill: DynamoDB Local's data must come back as it was.
      const finishedBefore = await Promise.all([0, 1, 2].map((i) => postMessage(api, `before-${i}`)));
      const finishedRuns = new Map<string, RunView>();
      for (const commandId of finishedBefore) {
        const run = await poll(() => terminalRun(api, commandId), 30_000);
        expect(run, commandId).toBeDefined();
        finishedRuns.set(commandId, run as RunView);
      }

      // Commands through the API, invalid JSON and unsupported command types straight onto the lane.
      // The whole group is killed as soon as 60 of them were acknowledged, others still in flight.
      const acceptedByApi = new Set<string>();
      const producedPoison = new Map<string, string>(); // messageId → marker in its body
      const producedUnsupported = new Map<string, string>(); // messageId → commandId
      let acknowledged = 0;
      let killed = false;
      await Promise.all(
        Array.from({ length: 10 }, async (_, sender) => {
          for (let i = 0; !killed; i++) {
            try {
              if (i % 5 === 3) {
                const marker = `poison-${sender}-${i}-${randomUUID()}`;
                producedPoison.set(
                  await produce(producer, queueUrl, `{"marker": "${marker}", broken`),
                  marker,
                );
              } else if (i % 5 === 4) {
                const commandId = randomUUID();
                producedUnsupported.set(
                  await produce(producer, queueUrl, unsupportedEnvelope(commandId)),
                  commandId,
                );
              } else {
                acceptedByApi.add(await postMessage(api, `load-${sender}`));
              }
            } catch {
              return; // the stack is gone: not acknowledged
            }
            acknowledged++;
            if (acknowledged >= 60 && !killed) {
              killed = true;
              killGroup(first.child.pid ?? 0);
            }
          }
        }),
      );
      producer.destroy();
      await first.exited;
      await waitForGroupGone(first.child.pid ?? 0);

      const second = await startStack(dataDir);
      const restored = second.info.apiUrl;
      const sqs = sqsClient(second.info.sqsEndpoint);
      try {
        for (const [commandId, before] of finishedRuns) {
          const after = await terminalRun(restored, commandId);
          expect(after?.status, commandId).toBe(before.status);
          expect(after?.idempotencyKey.status, commandId).toBe(before.idempotencyKey.status);
        }

        // Every API command was received by a lane worker (its run exists), and nothing is left on
        // the lanes: the messages in flight at the kill came back and were finished or dead-lettered.
        const deadline = Date.now() + 60_000;
        let unseen = [...acceptedByApi];
        let queued = Number.POSITIVE_INFINITY;
        while (Date.now() < deadline && (unseen.length > 0 || queued > 0)) {
          const found = await Promise.all(
            unseen.map(async (id) => (await readRun(restored, id)) !== undefined),
          );
          unseen = unseen.filter((_, index) => !found[index]);
          queued = await messagesOnLanes(sqs, second.info);
          if (unseen.length > 0 || queued > 0) await sleep(500);
        }
        expect(unseen).toEqual([]);
        expect(queued).toBe(0);

        // Every dead letter produced before the kill is listed, with its reason; a replay dry run
        // reads them all; listed again, they are all still there (both only peek: each message is
        // made visible again, receive count kept). The worker dead-letters poison as a new message
        // (sourceMessageId = the poison's id); an SQS redrive keeps the id.
        const listDeadLetters = async (): Promise<DeadLetterRow[]> => {
          const listed = await runRunlaneBin([
            'dlq',
            'list',
            '--json',
            '--lane',
            LANE,
            '--api-url',
            restored,
          ]);
          expect(listed.stderr).toBe('');
          expect(listed.status).toBe(0);
          return JSON.parse(listed.stdout) as DeadLetterRow[];
        };
        const rows = await listDeadLetters();
        const dryRun = await runRunlaneBin([
          'replay',
          '--lane',
          LANE,
          '--dry-run',
          '--max',
          '100',
          '--json',
          '--api-url',
          restored,
        ]);
        expect(dryRun.status, dryRun.stderr).toBe(0);
        expect(JSON.parse(dryRun.stdout)).toMatchObject({ dryRun: true, found: rows.length, failed: 0 });
        const again = await listDeadLetters();
        expect(again.map((row) => row.messageId).sort()).toEqual(rows.map((row) => row.messageId).sort());
        // A lane holding more than --limit is never cut silently: the cut is named on stderr.
        expect(rows.length).toBeGreaterThan(1);
        const limited = await runRunlaneBin([
          'dlq',
          'list',
          '--json',
          '--lane',
          LANE,
          '--limit',
          '1',
          '--api-url',
          restored,
        ]);
        expect(limited.status).toBe(0);
        expect(JSON.parse(limited.stdout)).toHaveLength(1);
        expect(limited.stderr).toContain(`${LANE} holds more than 1 dead letters; raise --limit`);
        // At least once: a kill between the worker's dead-letter send and its delete lists a poison twice.
        expect(rows.filter((row) => row.reason === 'invalid_json').length).toBeGreaterThanOrEqual(
          producedPoison.size,
        );
        for (const [messageId, commandId] of producedUnsupported) {
          const row = rows.find((r) => r.commandId === commandId || r.messageId === messageId);
          expect(row?.reason, commandId).toMatch(/^[a-z_]+$/);
        }
        const shownRow = rows.find((row) => row.reason === 'invalid_json');
        const shown = await runRunlaneBin([
          'dlq',
          'show',
          shownRow?.messageId ?? '-',
          '--json',
          '--api-url',
          restored,
        ]);
        expect(shown.status).toBe(0);
        const shownBody = (JSON.parse(shown.stdout) as { body: string }).body;
        expect([...producedPoison.values()].some((marker) => shownBody.includes(marker))).toBe(true);

        // Last: this receive hides the dead letters for 60 s.
        const deadLetters = await receiveAll(sqs, second.info.lanes[LANE]?.dlqUrl ?? '');
        const poisonSources = deadLetters
          .filter((m) => m.MessageAttributes?.reason?.StringValue === 'invalid_json')
          .map((m) => m.MessageAttributes?.sourceMessageId?.StringValue);
        expect(new Set(poisonSources)).toEqual(new Set(producedPoison.keys()));
      } finally {
        sqs.destroy();
        second.child.kill('SIGTERM');
        await second.exited;
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 240_000);
});

/** `runlane local --data-dir <dataDir>` leading its own process group, on free ports. */
async function startStack(dataDir: string): Promise<Stack> {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      'cli/main.ts',
      'local',
      '--json',
      '--data-dir',
      dataDir,
      '--port',
      '0',
      '--dynamo-port',
      '0',
      '--sqs-port',
      '0',
      '--events-port',
      '0',
      '--visibility-timeout',
      '2',
    ],
    {
      cwd: projectRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, POWERTOOLS_LOG_LEVEL: 'ERROR' },
      detached: true,
    },
  );
  groups.push(child.pid ?? 0);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const info = await new Promise<LocalStackInfo>((resolve, reject) => {
    let buffer = '';
    const timer = setTimeout(() => reject(new Error(`local stack not ready in 90 s:\n${stderr}`)), 90_000);
    child.stdout?.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      const lines = buffer.split('\n');
      buffer = lines.pop() ?? '';
      for (const line of lines) {
        if (!line.includes('"ready":true')) continue;
        clearTimeout(timer);
        resolve(JSON.parse(line) as LocalStackInfo);
      }
    });
    child.once('exit', (code) => reject(new Error(`local stack exited with ${code}:\n${stderr}`)));
  });
  // Keep draining stdout (EMF lines) so the stack never blocks on a full pipe.
  child.stdout?.resume();
  return { child, info, exited };
}

function sqsClient(endpoint: string): SQSClient {
  // One attempt: a send cut by the kill must not be retried into the restarted stack.
  return new SQSClient({
    endpoint,
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
    useQueueUrlAsEndpoint: false,
    maxAttempts: 1,
  });
}

const apis = new Map<string, Promise<LocalApi>>();

/** The stack's API at `apiUrl` (its auth folder read once). */
function apiAt(apiUrl: string): Promise<LocalApi> {
  let api = apis.get(apiUrl);
  if (!api) {
    api = connectLocalApi(apiUrl);
    api.catch(() => apis.delete(apiUrl));
    apis.set(apiUrl, api);
  }
  return api;
}

/** Posted by a member of hh-sigkill (a token of the stack's issuer; its key survives the restart in the data folder). */
async function postMessage(apiUrl: string, conversation: string): Promise<string> {
  const member = (await apiAt(apiUrl)).household('hh-sigkill');
  const response = await member('POST', `/api/v1/agent/conversations/${conversation}/messages`, {
    text: 'remind me to renew the passport',
  });
  if (response.status !== 202) throw new Error(`HTTP ${response.status}`);
  return (response.body as { commandId: string }).commandId;
}

async function produce(sqs: SQSClient, QueueUrl: string, body: string): Promise<string> {
  const sent = await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: body }));
  return sent.MessageId ?? '';
}

function unsupportedEnvelope(commandId: string): string {
  return JSON.stringify({
    schemaVersion: ENVELOPE_SCHEMA_VERSION,
    commandId,
    correlationId: `sigkill:${commandId}`,
    householdId: 'hh-sigkill',
    issuedAt: new Date().toISOString(),
    commandType: 'agent.unknown.action',
    lane: LANE,
    conversationId: 'sigkill',
    payload: {},
  });
}

/** An operator's read (SigV4 with the local operator credentials). */
async function readRun(apiUrl: string, commandId: string): Promise<RunView | undefined> {
  const response = await (await apiAt(apiUrl)).operator('GET', `/api/v1/runs/${commandId}`);
  return response.status === 200 ? (response.body as RunView) : undefined;
}

async function terminalRun(apiUrl: string, commandId: string): Promise<RunView | undefined> {
  const run = await readRun(apiUrl, commandId);
  return run && run.idempotencyKey.status !== 'Reserved' ? run : undefined;
}

/** Every message on the queue, held 60 s so each comes once (the test reads them last). */
async function receiveAll(sqs: SQSClient, QueueUrl: string): Promise<Message[]> {
  const all: Message[] = [];
  for (;;) {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl,
        MaxNumberOfMessages: 10,
        VisibilityTimeout: 60,
        MessageAttributeNames: ['All'],
      }),
    );
    if (Messages.length === 0) return all;
    all.push(...Messages);
  }
}

/** Visible, in flight and delayed messages on every lane queue of the stack. */
async function messagesOnLanes(sqs: SQSClient, info: LocalStackInfo): Promise<number> {
  const counts = await Promise.all(
    Object.values(info.lanes).map(async ({ queueUrl }) => {
      const { Attributes: a = {} } = await sqs.send(
        new GetQueueAttributesCommand({
          QueueUrl: queueUrl,
          AttributeNames: [
            'ApproximateNumberOfMessages',
            'ApproximateNumberOfMessagesNotVisible',
            'ApproximateNumberOfMessagesDelayed',
          ],
        }),
      );
      return (
        Number(a.ApproximateNumberOfMessages) +
        Number(a.ApproximateNumberOfMessagesNotVisible) +
        Number(a.ApproximateNumberOfMessagesDelayed)
      );
    }),
  );
  return counts.reduce((sum, n) => sum + n, 0);
}

async function poll<T>(read: () => Promise<T | undefined>, timeoutMs: number): Promise<T | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (value !== undefined || Date.now() > deadline) return value;
    await sleep(250);
  }
}

function killGroup(pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

/** Until no live process (zombies do not count) is left in the group: the JVM held the database. */
async function waitForGroupGone(group: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const members = execFileSync('ps', ['-e', '-o', 'pgid=,stat='], { encoding: 'utf8' })
      .split('\n')
      .map((line) => line.trim().split(/\s+/))
      .filter(([pgid, stat]) => Number(pgid) === group && !stat?.startsWith('Z'));
    if (members.length === 0) return;
    await sleep(100);
  }
  throw new Error(`process group ${group} still alive 10 s after SIGKILL`);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
