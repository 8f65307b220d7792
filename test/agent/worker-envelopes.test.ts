import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WorkerApiClient } from '#agent/worker/api-client.js';
import { buildResultEnvelopes, fitEnvelope, MAX_ENVELOPE_BYTES } from '#agent/worker/envelopes.js';
import {
  resultIdempotencyKey,
  type WorkerResultEnvelope,
  workerResultEnvelopeSchema,
} from '#contracts/worker-contract.js';

const sender = { environment: 'test', workerId: 'worker-a', site: 'lab' };

describe('result envelopes', () => {
  it('collect_facts: a facts envelope, then the execution_result, same task and attempt, own ids', () => {
    const task = { taskId: randomUUID(), attempt: 2 };
    const envelopes = buildResultEnvelopes(sender, task, {
      result: { status: 'succeeded', durationMs: 4, output: { cpus: 2 } },
      facts: { cpus: 2 },
    });
    expect(envelopes.map((e) => [e.payload_type, e.task_id, e.attempt, e.worker_id, e.site])).toEqual([
      ['facts', task.taskId, 2, 'worker-a', 'lab'],
      ['execution_result', task.taskId, 2, 'worker-a', 'lab'],
    ]);
    expect(new Set(envelopes.map((e) => e.id)).size).toBe(2);
    expect(envelopes.map((e) => resultIdempotencyKey(e))).toEqual([
      `${task.taskId}#2#facts`,
      `${task.taskId}#2#execution_result`,
    ]);
  });

  it('shortens output that escapes badly in JSON until the envelope fits, and says it truncated', () => {
    const [envelope] = buildResultEnvelopes(
      sender,
      { taskId: randomUUID(), attempt: 1 },
      {
        result: {
          status: 'succeeded',
          durationMs: 1,
          stdout: '\u0001'.repeat(90 * 1024), // 6 bytes each in JSON
          stderr: 'short',
          truncated: false,
        },
      },
    );
    const fitted = envelope as Extract<WorkerResultEnvelope, { payload_type: 'execution_result' }>;
    expect(Buffer.byteLength(JSON.stringify(fitted))).toBeLessThanOrEqual(MAX_ENVELOPE_BYTES);
    expect(fitted.payload.truncated).toBe(true);
    expect(fitted.payload.stdout?.length).toBeGreaterThan(10_000);
    expect(fitted.payload.stderr).toBe('short');
    expect(workerResultEnvelopeSchema.safeParse(fitted).success).toBe(true);
    // Small envelopes are left alone.
    expect(fitEnvelope(fitted)).toEqual(fitted);
  });
});

describe('WorkerApiClient: what each answer means', () => {
  let server: Server;
  let baseUrl: string;
  let answer: { status: number; body?: unknown } = { status: 200 };
  const paths: string[] = [];
  beforeAll(async () => {
    server = createServer((request, response) => {
      paths.push(request.url ?? '');
      request.resume();
      request.once('end', () => {
        response.writeHead(answer.status, { 'content-type': 'application/json' });
        response.end(answer.body === undefined ? '' : JSON.stringify(answer.body));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  const client = () =>
    new WorkerApiClient({
      baseUrl,
      region: async () => 'us-east-1',
      credentials: async () => ({ accessKeyId: 'local', secretAccessKey: 'local' }),
      timeoutMs: 1_000,
    });
  const heartbeat = {} as Parameters<WorkerApiClient['sendHeartbeat']>[0];

  it.each([
    [
      { status: 202, body: { accepted: true, duplicate: true } },
      { outcome: 'acknowledged', duplicate: true },
    ],
    [
      { status: 400, body: { error: 'unknown_payload_type', message: 'm' } },
      { outcome: 'refused', errorCode: 'unknown_payload_type' },
    ],
    [
      { status: 404, body: { error: 'unknown_task' } },
      { outcome: 'refused', errorCode: 'unknown_task' },
    ],
    [{ status: 413 }, { outcome: 'refused', errorCode: 'http_413' }],
    [{ status: 403, body: { message: 'Missing Authentication Token' } }, { outcome: 'failed' }],
    [{ status: 429, body: { error: 'throttled' } }, { outcome: 'failed' }],
    [{ status: 403, body: { error: 'worker_mismatch', fieldPath: 'body.worker_id' } }, { outcome: 'failed' }],
    [{ status: 403, body: { error: 'wrong_site', fieldPath: 'path.site' } }, { outcome: 'failed' }],
    [
      { status: 403, body: { error: 'wrong_site', fieldPath: 'body.site' } },
      { outcome: 'refused', errorCode: 'wrong_site' },
    ],
    [
      { status: 503, body: { error: 'run_in_progress' } },
      { outcome: 'failed', reason: 'HTTP 503 run_in_progress' },
    ],
  ])('a result answered %j is %j', async (given, expected) => {
    answer = given;
    expect(await client().sendHeartbeat(heartbeat)).toMatchObject(expected);
  });

  it.each([
    [{ status: 200, body: { claimed: true } }, { outcome: 'claimed' }],
    [
      { status: 409, body: { error: 'already_claimed', claimedBy: 'w2' } },
      { outcome: 'already_claimed', claimedBy: 'w2' },
    ],
    [{ status: 409, body: { error: 'stale_attempt' } }, { outcome: 'stale_attempt' }],
    [{ status: 403, body: { error: 'wrong_site' } }, { outcome: 'wrong_site' }],
    [{ status: 404, body: { error: 'task_not_found' } }, { outcome: 'task_not_found' }],
    [{ status: 403, body: { error: 'wrong_worker' } }, { outcome: 'unavailable' }],
    [{ status: 403, body: { error: 'wrong_site', fieldPath: 'path.site' } }, { outcome: 'unavailable' }],
    [{ status: 403, body: { error: 'worker_mismatch' } }, { outcome: 'unavailable' }],
    [{ status: 403, body: { message: 'signature mismatch' } }, { outcome: 'unavailable' }],
    [{ status: 404, body: { message: 'Not Found' } }, { outcome: 'unavailable' }],
    [{ status: 500, body: { error: 'internal_error' } }, { outcome: 'unavailable' }],
  ])('a claim answered %j is %j', async (given, expected) => {
    answer = given;
    expect(await client().claim(randomUUID(), { worker_id: 'w1', site: 'lab', attempt: 1 })).toMatchObject(
      expected,
    );
  });

  it("posts to the worker routes of the body's site", async () => {
    answer = { status: 202, body: { accepted: true } };
    paths.length = 0;
    const taskId = randomUUID();
    await client().claim(taskId, { worker_id: 'w1', site: 'lab', attempt: 1 });
    await client().sendHeartbeat({ site: 'lab' } as typeof heartbeat);
    await client().submitResult({ site: 'lab' } as Parameters<WorkerApiClient['submitResult']>[0]);
    expect(paths).toEqual([
      `/api/workers/sites/lab/tasks/${taskId}/claim`,
      '/api/workers/sites/lab/heartbeats',
      '/api/workers/sites/lab/results',
    ]);
  });

  it('no answer within the timeout is a failure, not a throw', async () => {
    const hanging = createServer(() => {});
    await new Promise<void>((resolve) => hanging.listen(0, '127.0.0.1', resolve));
    const api = new WorkerApiClient({
      baseUrl: `http://127.0.0.1:${(hanging.address() as AddressInfo).port}`,
      region: async () => 'us-east-1',
      credentials: async () => ({ accessKeyId: 'local', secretAccessKey: 'local' }),
      timeoutMs: 200,
    });
    expect(await api.sendHeartbeat(heartbeat)).toMatchObject({
      outcome: 'failed',
      reason: expect.stringMatching(/Timeout/),
    });
    hanging.closeAllConnections();
    await new Promise<void>((resolve) => hanging.close(() => resolve()));
  });
});
