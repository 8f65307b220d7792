import type * as z from 'zod';
import type { ZodType } from 'zod';
import {
  WORKER_PAYLOAD_TYPES,
  type WorkerHeartbeatEvent,
  type WorkerResultEnvelope,
  workerHeartbeatEventSchema,
  workerResultEnvelopeSchema,
} from '#contracts/worker-contract.js';

/**
 * Validation of what workers send (the API body or the bus event's detail), shared by
 * `/api/workers/*` and the bus ingest so both refuse the same things with the same field paths.
 */
export interface WorkerFieldIssue {
  readonly fieldPath: string;
  readonly message: string;
}

export type WorkerParseResult<T> =
  | { readonly ok: true; readonly value: T }
  | {
      readonly ok: false;
      /** `unknown_payload_type` (seed 004 "Replay not clearing"), `invalid_envelope`, `invalid_heartbeat` or `wrong_environment`. */
      readonly code: string;
      readonly issues: readonly WorkerFieldIssue[];
    };

/**
 * A result envelope, or why not: a `payload_type` outside the four is `unknown_payload_type` at
 * `<root>.payload_type`; any other problem is `invalid_envelope` with its field paths; an
 * envelope of another environment is `wrong_environment`.
 *
 * @example
 * parseWorkerResultEnvelope({ ...envelope, payload_type: 'metrics' }, 'body', 'prod');
 * // { ok: false, code: 'unknown_payload_type', issues: [{ fieldPath: 'body.payload_type', ... }] }
 */
export function parseWorkerResultEnvelope(
  value: unknown,
  root: string,
  environment: string,
): WorkerParseResult<WorkerResultEnvelope> {
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const payloadType = (value as Record<string, unknown>).payload_type;
    if (
      typeof payloadType === 'string' &&
      !(WORKER_PAYLOAD_TYPES as readonly string[]).includes(payloadType)
    ) {
      return {
        ok: false,
        code: 'unknown_payload_type',
        issues: [
          {
            fieldPath: `${root}.payload_type`,
            message: `"${payloadType}" is not one of ${WORKER_PAYLOAD_TYPES.join(', ')}`,
          },
        ],
      };
    }
  }
  const parsed = parseWith(workerResultEnvelopeSchema, value, root, 'invalid_envelope');
  if (!parsed.ok) return parsed;
  return checkEnvironment(parsed.value, root, environment);
}

/** A registration / heartbeat, or why not (`invalid_heartbeat`, `wrong_environment`). */
export function parseWorkerHeartbeat(
  value: unknown,
  root: string,
  environment: string,
): WorkerParseResult<WorkerHeartbeatEvent> {
  const parsed = parseWith(workerHeartbeatEventSchema, value, root, 'invalid_heartbeat');
  if (!parsed.ok) return parsed;
  return checkEnvironment(parsed.value, root, environment);
}

function checkEnvironment<T extends { readonly environment: string }>(
  value: T,
  root: string,
  environment: string,
): WorkerParseResult<T> {
  if (value.environment === environment) return { ok: true, value };
  return {
    ok: false,
    code: 'wrong_environment',
    issues: [
      {
        fieldPath: `${root}.environment`,
        message: `this control plane serves "${environment}", not "${value.environment}"`,
      },
    ],
  };
}

/** Zod issues as field paths under `root` (an unknown key is its own path). */
export function fieldIssues(issues: readonly z.core.$ZodIssue[], root: string): WorkerFieldIssue[] {
  return issues.flatMap((issue) => {
    const base = [root, ...issue.path.map(String)].join('.');
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => ({ fieldPath: `${base}.${key}`, message: 'unknown field' }));
    }
    return [{ fieldPath: base, message: issue.message }];
  });
}

function parseWith<S extends ZodType>(
  schema: S,
  value: unknown,
  root: string,
  code: string,
): WorkerParseResult<z.infer<S>> {
  const result = schema.safeParse(value);
  if (result.success) return { ok: true, value: result.data };
  return { ok: false, code, issues: fieldIssues(result.error.issues, root) };
}
