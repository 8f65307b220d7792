import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoDbApprovalStore } from '#adapters/dynamodb/approval-store.js';
import { DynamoDbClientKeyStore } from '#adapters/dynamodb/client-key-store.js';
import { SqsCommandQueue } from '#adapters/sqs/command-queue.js';
import { type CommandEnvelope, parseEnvelope, serializeEnvelope } from '#contracts/envelope.js';
import { LANES } from '#contracts/lanes.js';
import { type ApiRequest, createCommandApi } from '#core/api/command-api.js';
import { systemClock } from '#core/base/clock.js';
import type { CommandQueue, SendResult } from '#core/queues/ports.js';
import { buildWorkerAdapters } from '#wiring/worker-api.js';
import { aHouseholdCaller } from '../support/api-requests.js';
import { createPipeline, type Pipeline } from '../support/pipeline.js';
import { peekQueue } from '../support/queue-peek.js';

const LANE = 'runtime-agent-message-posted';

interface Deferred {
  readonly promise: Promise<void>;
  resolve(): void;
}

function deferred(): Deferred {
  let resolve: () => void = () => undefined;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/**
 * The real SQS command queue with scripted faults in front of its first sends: a SendMessage
 * that stays in flight until the test lets it go and then fails, one that fails at once, or one
 * that never returns (the process died there). Neither emulator can produce these on cue.
 */
class ScriptedQueue implements CommandQueue {
  public readonly envelopes: CommandEnvelope[] = [];
  readonly #real: CommandQueue;
  readonly #script: ((envelope: CommandEnvelope) => Promise<SendResult>)[];

  public constructor(real: CommandQueue, script: ((envelope: CommandEnvelope) => Promise<SendResult>)[]) {
    this.#real = real;
    this.#script = [...script];
  }

  public send(envelope: CommandEnvelope): Promise<SendResult> {
    this.envelopes.push(envelope);
    const fault = this.#script.shift();
    return fault ? fault(envelope) : this.#real.send(envelope);
  }
}

/** A send that is in flight (`started` resolves) until `finish` is resolved, then fails. */
function inFlightThenFails() {
  const started = deferred();
  const finish = deferred();
  return {
    started: started.promise,
    finish: () => finish.resolve(),
    async send(): Promise<SendResult> {
      started.resolve();
      await finish.promise;
      throw new Error('SendMessage failed (injected)');
    },
  };
}

describe('Idempotency-Key: a 202 means the envelope is on the lane', () => {
  let pipeline: Pipeline;
  let realQueue: CommandQueue;

  beforeAll(async () => {
    // Peeking at the queue counts as a receive: leave the lane worker room for its own.
    pipeline = await createPipeline({ maxReceiveCount: 5 });
    realQueue = new SqsCommandQueue({
      client: pipeline.sqs,
      queueUrls: Object.fromEntries(LANES.map((lane) => [lane.name, pipeline.queues[lane.name].queueUrl])),
    });
  });
  afterAll(async () => {
    await pipeline?.stop();
  });

  /** The real API on the pipeline's table and queues, sending through `queue`. */
  function apiSendingThrough(queue: CommandQueue) {
    const tables = { client: pipeline.documents, tableName: pipeline.tableName };
    return createCommandApi({
      queue,
      clientKeys: new DynamoDbClientKeyStore(tables),
      runs: pipeline.store,
      approvals: new DynamoDbApprovalStore(tables),
      clock: systemClock,
      logger: pipeline.logger,
      maxBodyBytes: 32_768,
      workers: buildWorkerAdapters(
        { environment: 'test', tableName: pipeline.tableName },
        { documents: pipeline.documents, sqs: pipeline.sqs },
      ).api,
    });
  }

  function post(key: string, text: string): ApiRequest {
    return {
      method: 'POST',
      path: '/api/v1/agent/conversations/conv-race/messages',
      headers: { 'content-type': 'application/json', 'idempotency-key': key },
      query: {},
      body: JSON.stringify({ householdId: 'hh-race', text }),
      requestId: randomUUID(),
      caller: aHouseholdCaller('hh-race'),
    };
  }

  /** The bodies on the lane queue, by the commandId they carry. */
  async function queuedBodies(): Promise<Map<string, string[]>> {
    const byCommand = new Map<string, string[]>();
    for (const message of await peekQueue(pipeline.sqs, pipeline.queues[LANE].queueUrl)) {
      const parsed = parseEnvelope(message.Body ?? '');
      const commandId = parsed.ok ? parsed.envelope.commandId : '(not an envelope)';
      byCommand.set(commandId, [...(byCommand.get(commandId) ?? []), message.Body ?? '']);
    }
    return byCommand;
  }

  function expectInternalError(response: { statusCode: number; body: string }) {
    expect(response.statusCode).toBe(500);
    expect(JSON.parse(response.body)).toMatchObject({ error: 'internal_error' });
    expect(response.body).not.toMatch(/at .*\.ts|stack|injected/i);
  }

  it('answers a retry made while the first SendMessage is in flight (injected: it then fails) with 202 only once the retry put the same envelope on the lane', async () => {
    const first = inFlightThenFails();
    const queue = new ScriptedQueue(realQueue, [first.send]);
    const api = apiSendingThrough(queue);
    const key = `race-${randomUUID()}`;

    const requestA = api(post(key, 'pay the plumber'));
    await first.started; // A claimed the key; its SendMessage has not returned.
    const responseB = await api(post(key, 'pay the plumber'));

    expect(responseB.statusCode).toBe(202);
    const acceptedB = JSON.parse(responseB.body);
    const envelopeA = queue.envelopes[0] as CommandEnvelope;
    expect(acceptedB).toMatchObject({ commandId: envelopeA.commandId, idempotentReplay: true });
    // When B answered, the envelope A was sending was on the lane, byte for byte.
    expect(await queuedBodies()).toEqual(new Map([[envelopeA.commandId, [serializeEnvelope(envelopeA)]]]));

    first.finish();
    expectInternalError(await requestA);

    await pipeline.drain(LANE);
    expect((await pipeline.store.getRun(envelopeA.commandId))?.run).toMatchObject({
      status: 'Completed',
      attempts: 1,
    });
    // Its run exists: a later retry is answered without sending anything.
    const responseC = await api(post(key, 'pay the plumber'));
    expect(responseC.statusCode).toBe(202);
    expect(JSON.parse(responseC.body)).toMatchObject({
      commandId: envelopeA.commandId,
      idempotentReplay: true,
    });
    expect(queue.envelopes).toHaveLength(2);
    expect(await queuedBodies()).toEqual(new Map());
  });

  it("never answers 202 when the retry's own SendMessage fails too (injected): nothing is queued, and the next retry queues it before its 202", async () => {
    const first = inFlightThenFails();
    const queue = new ScriptedQueue(realQueue, [
      first.send,
      async () => {
        throw new Error('SendMessage failed (injected)');
      },
    ]);
    const api = apiSendingThrough(queue);
    const key = `race-${randomUUID()}`;

    const requestA = api(post(key, 'book the vet'));
    await first.started;
    expectInternalError(await api(post(key, 'book the vet')));
    first.finish();
    expectInternalError(await requestA);
    expect(await queuedBodies()).toEqual(new Map());

    // The failed sends left the key behind, but nothing a retry trusts: the retry sends first.
    const envelopeA = queue.envelopes[0] as CommandEnvelope;
    const responseC = await api(post(key, 'book the vet'));
    expect(responseC.statusCode).toBe(202);
    expect(JSON.parse(responseC.body)).toMatchObject({
      commandId: envelopeA.commandId,
      idempotentReplay: true,
    });
    expect(await queuedBodies()).toEqual(new Map([[envelopeA.commandId, [serializeEnvelope(envelopeA)]]]));

    await pipeline.drain(LANE);
    expect((await pipeline.store.getRun(envelopeA.commandId))?.run).toMatchObject({
      status: 'Completed',
      attempts: 1,
    });
    expect(await pipeline.store.findRunsByCorrelationId(envelopeA.correlationId)).toHaveLength(1);
  });

  it('queues the envelope on a retry after a crash between claiming the key and sending (injected: the first SendMessage never returns)', async () => {
    const crashed = deferred();
    const queue = new ScriptedQueue(realQueue, [
      async () => {
        // The process died here: the key is claimed, nothing was sent, no answer ever comes.
        await crashed.promise;
        throw new Error('process gone (injected)');
      },
    ]);
    const api = apiSendingThrough(queue);
    const key = `crash-${randomUUID()}`;

    const requestA = api(post(key, 'water the plants'));
    while (queue.envelopes.length === 0) await new Promise((resolve) => setImmediate(resolve));
    expect(await queuedBodies()).toEqual(new Map());

    const responseB = await api(post(key, 'water the plants'));
    expect(responseB.statusCode).toBe(202);
    const envelopeA = queue.envelopes[0] as CommandEnvelope;
    expect(JSON.parse(responseB.body)).toMatchObject({
      commandId: envelopeA.commandId,
      idempotentReplay: true,
    });
    expect(await queuedBodies()).toEqual(new Map([[envelopeA.commandId, [serializeEnvelope(envelopeA)]]]));

    await pipeline.drain(LANE);
    expect((await pipeline.store.getRun(envelopeA.commandId))?.run).toMatchObject({
      status: 'Completed',
      attempts: 1,
    });
    crashed.resolve();
    await requestA;
  });
});
