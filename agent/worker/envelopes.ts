import { randomUUID } from 'node:crypto';
import {
  type ExecutionResultPayload,
  type WorkerResultEnvelope,
  type WorkerTaskMessage,
  workerResultEnvelopeSchema,
} from '#contracts/worker-contract.js';
import type { HostFacts } from './facts.js';

/**
 * Largest serialized envelope the worker sends: under the API's result body limit (256 KiB) and an
 * EventBridge entry (256 KB) with room for the request around it. Output that escapes badly in JSON
 * (control characters become `\u00XX`) could pass `maxOutputBytes` and still not fit.
 */
export const MAX_ENVELOPE_BYTES = 200 * 1024;

/** Who sends the envelopes. */
export interface EnvelopeSender {
  readonly environment: string;
  readonly workerId: string;
  readonly site: string;
}

/**
 * A task's result envelopes, in the order they are sent: the `facts` envelope (collect_facts),
 * then the `execution_result`, each validated against the contract and within {@link MAX_ENVELOPE_BYTES}.
 *
 * @example
 * const [result] = buildResultEnvelopes({ environment: 'prod', workerId: 'w1', site: 'lab' }, task, { result });
 */
export function buildResultEnvelopes(
  sender: EnvelopeSender,
  task: Pick<WorkerTaskMessage, 'taskId' | 'attempt'>,
  outcome: { readonly result: ExecutionResultPayload; readonly facts?: HostFacts },
): WorkerResultEnvelope[] {
  const base = () => ({
    schemaVersion: 1 as const,
    id: randomUUID(),
    environment: sender.environment,
    worker_id: sender.workerId,
    site: sender.site,
    ts: new Date().toISOString(),
    task_id: task.taskId,
    attempt: task.attempt,
  });
  const envelopes: unknown[] = [];
  if (outcome.facts !== undefined)
    envelopes.push({ ...base(), payload_type: 'facts', payload: outcome.facts });
  envelopes.push({ ...base(), payload_type: 'execution_result', payload: outcome.result });
  return envelopes.map((envelope) => fitEnvelope(workerResultEnvelopeSchema.parse(envelope)));
}

/**
 * Shortens an `execution_result`'s stdout and stderr (halving the longer one, `truncated: true`)
 * until the serialized envelope is at most `maxBytes`. Other envelopes are returned as they are.
 */
export function fitEnvelope(
  envelope: WorkerResultEnvelope,
  maxBytes = MAX_ENVELOPE_BYTES,
): WorkerResultEnvelope {
  if (envelope.payload_type !== 'execution_result') return envelope;
  let payload = envelope.payload;
  const size = (): number => Buffer.byteLength(JSON.stringify({ ...envelope, payload }));
  while (size() > maxBytes) {
    const stdout = payload.stdout ?? '';
    const stderr = payload.stderr ?? '';
    if (stdout.length === 0 && stderr.length === 0) break;
    payload =
      stdout.length >= stderr.length
        ? { ...payload, stdout: stdout.slice(0, Math.floor(stdout.length / 2)), truncated: true }
        : { ...payload, stderr: stderr.slice(0, Math.floor(stderr.length / 2)), truncated: true };
  }
  return { ...envelope, payload };
}
