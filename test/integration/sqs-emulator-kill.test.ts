import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import {
  ChangeMessageVisibilityCommand,
  CreateQueueCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  type Message,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { afterAll, describe, expect, it } from 'vitest';
import { LOCAL_CREDENTIALS, LOCAL_REGION, localSqsClient } from '#local/emulators/clients.js';
import { startSqsEmulator } from '#local/emulators/sqs-emulator.js';
import { projectRoot } from '../support/local-cli.js';

/**
 * The SQS emulator with a data folder, killed with SIGKILL (its whole process group) while sends
 * are being answered, then restarted on the same folder in this process: what it acknowledged is
 * there, in the state it was in.
 */
const groups: number[] = [];
afterAll(() => {
  for (const group of groups) killGroup(group);
});

describe('SQS emulator data folder after kill -9', () => {
  it('keeps every acknowledged send, in-flight messages with their receipt handle and receive count, releases and DLQ moves', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'runlane-sqs-kill-'));
    try {
      const first = await startEmulatorProcess(dataDir);
      const sqs = localSqsClient(first.endpoint);
      const work = await createQueuePair(sqs, 'work', 5);
      const poison = await createQueuePair(sqs, 'poison', 1);

      // Received and deleted: gone for good.
      await sendOne(sqs, work.url, 'deleted');
      const [deleted] = await receive(sqs, work.url, 1, 30);
      await sqs.send(new DeleteMessageCommand({ QueueUrl: work.url, ReceiptHandle: deleted?.ReceiptHandle }));
      // Received and still in flight at the kill: one for 60 s (its handle must still delete it),
      // two for 5 s (visible again after the restart).
      const longHeld = await sendOne(sqs, work.url, 'long-held');
      const [held] = await receive(sqs, work.url, 1, 60);
      const shortHeld = [await sendOne(sqs, work.url, 'short-1'), await sendOne(sqs, work.url, 'short-2')];
      const shortReceived = await receive(sqs, work.url, 2, 5);
      // Received, then made visible again at once (what `runlane dlq list` does to peek).
      const released = await sendOne(sqs, work.url, 'released');
      const [releasedMessage] = await receive(sqs, work.url, 1, 30);
      await sqs.send(
        new ChangeMessageVisibilityCommand({
          QueueUrl: work.url,
          ReceiptHandle: releasedMessage?.ReceiptHandle,
          VisibilityTimeout: 0,
        }),
      );
      // Received past maxReceiveCount 1: moved to the DLQ by the emulator.
      const deadLettered = await sendOne(sqs, poison.url, 'poison');
      await receive(sqs, poison.url, 1, 0);
      expect(await receive(sqs, poison.url, 1, 0)).toEqual([]);
      expect(deleted?.Body).toBe('deleted');
      expect(held?.MessageId).toBe(longHeld);
      expect(releasedMessage?.MessageId).toBe(released);
      expect(shortReceived.map((m) => m.MessageId).sort()).toEqual([...shortHeld].sort());

      // A flood of single and batch sends; the whole group is killed once 150 were answered.
      const acknowledged = new Set<string>();
      // No retries: a send that fails at the kill must not be answered by the restarted emulator.
      const flood = new SQSClient({
        endpoint: first.endpoint,
        region: LOCAL_REGION,
        credentials: LOCAL_CREDENTIALS,
        useQueueUrlAsEndpoint: false,
        maxAttempts: 1,
      });
      let killed = false;
      const senders = Array.from({ length: 12 }, async (_, sender) => {
        for (let i = 0; !killed; i++) {
          try {
            if (i % 3 === 0) {
              const result = await flood.send(
                new SendMessageBatchCommand({
                  QueueUrl: work.url,
                  Entries: Array.from({ length: 5 }, (_, j) => ({
                    Id: `e${j}`,
                    MessageBody: `flood-${sender}-${i}-${j}`,
                  })),
                }),
              );
              for (const entry of result.Successful ?? []) acknowledged.add(entry.MessageId ?? '');
            } else {
              acknowledged.add(await sendOne(flood, work.url, `flood-${sender}-${i}`));
            }
          } catch {
            return; // the emulator is gone: this send was never acknowledged
          }
          if (acknowledged.size >= 150 && !killed) {
            killed = true;
            killGroup(first.pid);
          }
        }
      });
      await Promise.all(senders);
      await first.exited;
      flood.destroy();
      sqs.destroy();

      const second = await startSqsEmulator({ dataDir });
      const again = localSqsClient(second.endpoint);
      try {
        // The 60 s message is still in flight, and the handle given before the kill deletes it.
        expect(await notVisible(again, work.url)).toBeGreaterThanOrEqual(1);
        const before = await notVisible(again, work.url);
        await again.send(
          new DeleteMessageCommand({ QueueUrl: work.url, ReceiptHandle: held?.ReceiptHandle }),
        );
        expect(await notVisible(again, work.url)).toBe(before - 1);

        const expected = new Set([...acknowledged, ...shortHeld, released]);
        const received = await receiveUntil(again, work.url, expected, 20_000);
        const byId = new Map(received.map((m) => [m.MessageId ?? '', m]));
        const missingIds = [...expected].filter((id) => !byId.has(id));
        expect(missingIds).toEqual([]);
        expect(byId.has(longHeld)).toBe(false);
        expect(received.some((m) => m.Body === 'deleted')).toBe(false);
        // Receive counts kept: once before the kill, once now.
        for (const id of [...shortHeld, released]) {
          expect(byId.get(id)?.Attributes?.ApproximateReceiveCount, id).toBe('2');
        }
        expect(byId.get([...acknowledged][0] ?? '')?.Attributes?.ApproximateReceiveCount).toBe('1');
        const dead = await receive(again, poison.dlqUrl, 10, 30);
        expect(dead.map((m) => [m.MessageId, m.Body])).toEqual([[deadLettered, 'poison']]);
      } finally {
        again.destroy();
        await second.stop();
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 60_000);
});

interface EmulatorProcess {
  readonly endpoint: string;
  /** Also the process group id: the child leads its own group. */
  readonly pid: number;
  readonly exited: Promise<void>;
}

/** `startSqsEmulator({ dataDir })` in a child process that leads its own process group. */
async function startEmulatorProcess(dataDir: string): Promise<EmulatorProcess> {
  const moduleUrl = new URL('../../local/emulators/sqs-emulator.ts', import.meta.url).href;
  const script = `const { startSqsEmulator } = await import(${JSON.stringify(moduleUrl)});
    const sqs = await startSqsEmulator({ dataDir: ${JSON.stringify(dataDir)} });
    process.stdout.write(JSON.stringify({ endpoint: sqs.endpoint }) + '\\n');
    setInterval(() => {}, 1000);`;
  const child: ChildProcess = spawn(
    process.execPath,
    ['--import', 'tsx', '--input-type=module', '-e', script],
    {
      cwd: projectRoot,
      stdio: ['ignore', 'pipe', 'inherit'],
      detached: true,
    },
  );
  const pid = child.pid ?? 0;
  groups.push(pid);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  for await (const line of createInterface({ input: child.stdout as NodeJS.ReadableStream })) {
    return { endpoint: (JSON.parse(line) as { endpoint: string }).endpoint, pid, exited };
  }
  throw new Error('the SQS emulator process ended before it was ready');
}

function killGroup(pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

async function createQueuePair(
  sqs: SQSClient,
  name: string,
  maxReceiveCount: number,
): Promise<{ url: string; dlqUrl: string }> {
  const dlq = await sqs.send(new CreateQueueCommand({ QueueName: `${name}-dlq` }));
  const dlqArn = (
    await sqs.send(new GetQueueAttributesCommand({ QueueUrl: dlq.QueueUrl, AttributeNames: ['QueueArn'] }))
  ).Attributes?.QueueArn;
  const queue = await sqs.send(
    new CreateQueueCommand({
      QueueName: name,
      Attributes: { RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount }) },
    }),
  );
  return { url: queue.QueueUrl ?? '', dlqUrl: dlq.QueueUrl ?? '' };
}

async function sendOne(sqs: SQSClient, QueueUrl: string, body: string): Promise<string> {
  return (await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: body }))).MessageId ?? '';
}

async function receive(
  sqs: SQSClient,
  QueueUrl: string,
  max: number,
  visibilityTimeout: number,
): Promise<Message[]> {
  const result = await sqs.send(
    new ReceiveMessageCommand({
      QueueUrl,
      MaxNumberOfMessages: max,
      VisibilityTimeout: visibilityTimeout,
      MessageSystemAttributeNames: ['ApproximateReceiveCount'],
    }),
  );
  return result.Messages ?? [];
}

async function notVisible(sqs: SQSClient, QueueUrl: string): Promise<number> {
  const result = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['ApproximateNumberOfMessagesNotVisible'] }),
  );
  return Number(result.Attributes?.ApproximateNumberOfMessagesNotVisible);
}

/** Receives (held 60 s, so each comes once) until every id in `expected` came or `timeoutMs` passed. */
async function receiveUntil(
  sqs: SQSClient,
  QueueUrl: string,
  expected: ReadonlySet<string>,
  timeoutMs: number,
): Promise<Message[]> {
  const received: Message[] = [];
  const missing = new Set(expected);
  const deadline = Date.now() + timeoutMs;
  while (missing.size > 0 && Date.now() < deadline) {
    const result = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl,
        MaxNumberOfMessages: 10,
        VisibilityTimeout: 60,
        WaitTimeSeconds: 1,
        MessageSystemAttributeNames: ['ApproximateReceiveCount'],
      }),
    );
    for (const message of result.Messages ?? []) {
      received.push(message);
      missing.delete(message.MessageId ?? '');
    }
  }
  return received;
}
