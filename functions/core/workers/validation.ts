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
  const unstorable = storableIssues(value, root);
  if (unstorable.length > 0) return { ok: false, code: 'invalid_envelope', issues: unstorable };
  const parsed = parseWith(workerResultEnvelopeSchema, value, root, 'invalid_envelope');
  if (!parsed.ok) return parsed;
  // The error code is copied into the task, the action history and (in its rationale, stage and
  // signal) the run: unbounded, it could push the run's item past DynamoDB's 400 KB.
  const envelope = parsed.value;
  if (
    envelope.payload_type === 'execution_result' &&
    (envelope.payload.errorCode?.length ?? 0) > MAX_ERROR_CODE_LENGTH
  ) {
    return {
      ok: false,
      code: 'invalid_envelope',
      issues: [
        {
          fieldPath: `${root}.payload.errorCode`,
          message: `must be at most ${MAX_ERROR_CODE_LENGTH} characters (a code such as script_not_allowed)`,
        },
      ],
    };
  }
  return checkEnvironment(parsed.value, root, environment);
}

/** A registration / heartbeat, or why not (`invalid_heartbeat`, `wrong_environment`). */
export function parseWorkerHeartbeat(
  value: unknown,
  root: string,
  environment: string,
): WorkerParseResult<WorkerHeartbeatEvent> {
  const unstorable = storableIssues(value, root);
  if (unstorable.length > 0) return { ok: false, code: 'invalid_heartbeat', issues: unstorable };
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

/** `WORKER_CLOCK_SKEW_SECONDS` unless set: how far a worker's `ts` may be from its arrival. */
export const DEFAULT_WORKER_CLOCK_SKEW_SECONDS = 300;

/**
 * Why `ts` is too far from `receivedAt`, or `undefined`: more than `skewMs` ahead of it, or (with
 * `refusePast`, for heartbeats) more than `skewMs` behind it. A result may arrive late from the
 * spool after an outage, so results are refused only when ahead. Shared by the API and the bus
 * ingest (reason `clock_skew`).
 *
 * @example
 * clockSkewIssue('2099-01-01T00:00:00Z', new Date(), { skewMs: 300_000, refusePast: true, fieldPath: 'body.ts' });
 * // { fieldPath: 'body.ts', message: 'is 2… s ahead of the time it arrived (at most 300 s)' }
 */
export function clockSkewIssue(
  ts: string,
  receivedAt: Date,
  options: { readonly skewMs: number; readonly refusePast: boolean; readonly fieldPath: string },
): WorkerFieldIssue | undefined {
  const offsetMs = Date.parse(ts) - receivedAt.getTime();
  const limit = `at most ${Math.round(options.skewMs / 1000)} s`;
  if (Number.isNaN(offsetMs)) return { fieldPath: options.fieldPath, message: 'is not a time' };
  if (offsetMs > options.skewMs) {
    return {
      fieldPath: options.fieldPath,
      message: `is ${Math.round(offsetMs / 1000)} s ahead of the time it arrived (${limit}): check the host's clock`,
    };
  }
  if (options.refusePast && -offsetMs > options.skewMs) {
    return {
      fieldPath: options.fieldPath,
      message: `is ${Math.round(-offsetMs / 1000)} s behind the time it arrived (${limit}): check the host's clock`,
    };
  }
  return undefined;
}

/** Longest `payload.errorCode` of an `execution_result`. */
const MAX_ERROR_CODE_LENGTH = 128;

/** Containers (objects, arrays) nested deeper than this in a worker body are refused. */
export const MAX_WORKER_BODY_DEPTH = 24;
/** Object keys longer than this are refused. */
const MAX_KEY_LENGTH = 1024;
/** DynamoDB's smallest non-zero magnitude. */
const MIN_NUMBER_MAGNITUDE = 1e-130;
/** Issues reported at most, so a body full of problems gets a short answer. */
const MAX_STORABLE_ISSUES = 10;
/** A UTF-16 surrogate without its pair (with the `u` flag, paired ones are one code point). */
const LONE_SURROGATE = /\p{Cs}/u;

/**
 * What in a worker body could not be stored as it is (a result or heartbeat lands in DynamoDB):
 * containers nested deeper than {@link MAX_WORKER_BODY_DEPTH} (DynamoDB allows 32 levels in an
 * item), empty or overlong object keys, numbers the SDK or DynamoDB refuse (not finite, beyond
 * ±2^53, or a magnitude below 1e-130), and lone UTF-16 surrogates. The walk stops at the depth
 * limit, so no body can exhaust the stack.
 *
 * @example
 * storableIssues({ payload: { '': 1 } }, 'body'); // [{ fieldPath: 'body.payload.""', message: 'empty key' }]
 */
export function storableIssues(value: unknown, root: string): WorkerFieldIssue[] {
  const issues: WorkerFieldIssue[] = [];
  const visit = (node: unknown, path: string, depth: number): void => {
    if (issues.length >= MAX_STORABLE_ISSUES) return;
    if (typeof node === 'number') {
      const magnitude = Math.abs(node);
      if (
        !Number.isFinite(node) ||
        magnitude > Number.MAX_SAFE_INTEGER ||
        (magnitude !== 0 && magnitude < MIN_NUMBER_MAGNITUDE)
      ) {
        issues.push({
          fieldPath: path,
          message: 'must be a number between -(2^53 - 1) and 2^53 - 1, 0 or of magnitude at least 1e-130',
        });
      }
      return;
    }
    if (typeof node === 'string') {
      if (LONE_SURROGATE.test(node))
        issues.push({ fieldPath: path, message: 'contains a lone UTF-16 surrogate' });
      return;
    }
    if (typeof node !== 'object' || node === null) return;
    if (depth >= MAX_WORKER_BODY_DEPTH) {
      issues.push({ fieldPath: path, message: `nested deeper than ${MAX_WORKER_BODY_DEPTH} levels` });
      return;
    }
    if (Array.isArray(node)) {
      node.forEach((item, index) => {
        visit(item, `${path}.${index}`, depth + 1);
      });
      return;
    }
    for (const [key, item] of Object.entries(node)) {
      if (key === '') {
        issues.push({ fieldPath: `${path}.""`, message: 'empty key' });
        continue;
      }
      if (key.length > MAX_KEY_LENGTH || LONE_SURROGATE.test(key)) {
        issues.push({
          fieldPath: `${path}.${key.slice(0, 64)}`,
          message: `key must be 1-${MAX_KEY_LENGTH} characters without lone UTF-16 surrogates`,
        });
        continue;
      }
      visit(item, `${path}.${key}`, depth + 1);
    }
  };
  visit(value, root, 0);
  return issues;
}
