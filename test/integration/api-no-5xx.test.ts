import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_ROUTES, type RouteName } from '#contracts/api-routes.js';
import type { Caller } from '#core/api/caller.js';
import {
  ANONYMOUS,
  aHouseholdCaller,
  anApiRequest,
  anApprover,
  anOperatorCaller,
  aWorkerCaller,
} from '../support/api-requests.js';
import { createPipeline, type Pipeline } from '../support/pipeline.js';
import { aHeartbeat, anExecutionResult } from '../support/worker-fixtures.js';

/**
 * Property: nothing a client sends makes the API module answer 5xx. fast-check generates requests
 * over every route, mostly from the route's own kind of caller so they reach the handler: fuzzed
 * path segments (bad percent-encoding, unicode), queries, content types, Idempotency-Keys and
 * bodies (a valid body with one field replaced by anything, arbitrary JSON, deep nesting, empty
 * keys, huge or tiny numbers, broken JSON). In process, on DynamoDB Local and the SQS emulator
 * (the local stack's fuzz test sends the same kind of requests over HTTP).
 */
const RUNS = 1_500;
const SEED = 17_2026;
const ROUTES = Object.keys(API_ROUTES) as RouteName[];

function nested(depth: number, leaf: unknown = 1): unknown {
  let value = leaf;
  for (let level = 0; level < depth; level += 1) value = level % 2 ? [value] : { a: value };
  return value;
}

const anything: fc.Arbitrary<unknown> = fc.oneof(
  fc.jsonValue(),
  fc.constantFrom(
    '',
    '\uD800',
    1e300,
    -1e300,
    1e-200,
    2 ** 60,
    -0,
    nested(40),
    nested(200),
    { '': 1 },
    { a: { '': [1] } },
    'x'.repeat(5_000),
  ),
  fc.dictionary(fc.string({ maxLength: 4 }), fc.jsonValue(), { maxKeys: 4 }),
);

const segment = fc.oneof(
  fc.constantFrom('%', '%zz', '%E0%A4%A', '%ED%A0%80', '..', '%00', '%2F', 'a%20b', 'lab', 'edge', ''),
  fc.uuid(),
  fc.string({ minLength: 1, maxLength: 30 }).map((s) => encodeURIComponent(s)),
  fc.stringMatching(/^[A-Za-z0-9_-]{1,140}$/),
  fc.constant(`apr-${'0'.repeat(24)}`),
);

function validBody(route: RouteName): Record<string, unknown> | undefined {
  switch (route) {
    case 'postMessage':
      return { householdId: 'hh-fuzz', text: 'hello' };
    case 'postApproval':
      return { decision: 'reject', rationale: 'fuzz' };
    case 'claimWorkerTask':
      return { worker_id: 'w-fuzz', site: 'lab', attempt: 1 };
    case 'postWorkerHeartbeat':
      return {
        ...aHeartbeat({ environment: 'local', worker_id: 'w-fuzz', site: 'lab' }),
        ts: new Date().toISOString(),
      };
    case 'postWorkerResult':
      return {
        ...anExecutionResult({ taskId: randomUUID() }, { environment: 'local', worker_id: 'w-fuzz' }),
        payload_type: 'facts',
        payload: { a: 1 },
      };
    case 'putWorkerDelegation':
      return { enabled: false };
    default:
      return undefined;
  }
}

function callerFor(route: RouteName, choice: number): Caller {
  if (choice === 0) return ANONYMOUS;
  if (choice === 1) return anOperatorCaller();
  switch (API_ROUTES[route].group) {
    case 'household':
      return choice === 2 ? aHouseholdCaller('hh-fuzz') : anApprover('hh-fuzz');
    case 'operator':
      return anOperatorCaller();
    case 'worker':
      return aWorkerCaller('lab', 'w-fuzz', 'local');
  }
}

const request = fc
  .record({
    route: fc.constantFrom(...ROUTES),
    segments: fc.array(segment, { minLength: 3, maxLength: 3 }),
    keepSegment: fc.array(fc.boolean(), { minLength: 3, maxLength: 3 }),
    callerChoice: fc.integer({ min: 0, max: 9 }),
    query: fc.dictionary(
      fc.constantFrom('limit', 'cursor', 'correlationId', 'x'),
      fc.oneof(fc.string(), segment),
      {
        maxKeys: 3,
      },
    ),
    contentType: fc.constantFrom(
      'application/json',
      'application/json; charset=utf-8',
      'text/plain',
      undefined,
    ),
    idempotencyKey: fc.option(fc.oneof(fc.stringMatching(/^[A-Za-z0-9_.:-]{1,128}$/), fc.string()), {
      nil: undefined,
    }),
    bodyKind: fc.constantFrom('valid', 'field', 'field', 'any', 'broken', 'none'),
    field: fc.string({ maxLength: 12 }),
    value: anything,
    any: anything,
  })
  .map((r) => {
    const valid = validBody(r.route);
    let segmentIndex = 0;
    const path = API_ROUTES[r.route].path.replace(/\{(\w+)\}/g, (_match, name: string) => {
      const index = segmentIndex++;
      const keep = r.keepSegment[index];
      if (keep && name === 'site') return 'lab';
      if (keep && (name === 'taskId' || name === 'runId')) return randomUUID();
      if (keep && name === 'approvalId') return `apr-${'0'.repeat(24)}`;
      if (keep) return 'conv-fuzz';
      return r.segments[index] ?? '';
    });
    const fields = Object.keys(valid ?? {});
    const field =
      fields.length > 0 && r.field.length % 2 === 0
        ? (fields[r.field.length % fields.length] ?? r.field)
        : r.field;
    const body =
      r.bodyKind === 'none'
        ? undefined
        : r.bodyKind === 'broken'
          ? `{"a": ${JSON.stringify(r.field)}`
          : r.bodyKind === 'any'
            ? JSON.stringify(r.any)
            : JSON.stringify(r.bodyKind === 'field' ? { ...valid, [field]: r.value } : (valid ?? {}));
    const headers: Record<string, string> = {};
    if (r.contentType) headers['content-type'] = r.contentType;
    if (r.idempotencyKey !== undefined) headers['idempotency-key'] = r.idempotencyKey;
    const query: Record<string, string> =
      r.route === 'reviewQueue' && r.query.cursor === undefined ? {} : r.query;
    return anApiRequest(API_ROUTES[r.route].method, path, {
      caller: callerFor(r.route, r.callerChoice),
      headers,
      query,
      ...(body !== undefined ? { body } : {}),
    });
  });

describe('no 5xx from anything a client sends (property, in process)', () => {
  let pipeline: Pipeline;
  beforeAll(async () => {
    pipeline = await createPipeline();
  });
  afterAll(async () => {
    await pipeline?.stop();
  });

  it(`answers ${RUNS} generated requests across every route with a status below 500`, {
    timeout: 300_000,
  }, async () => {
    const failures: string[] = [];
    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(request, async (generated) => {
        const response = await pipeline.api(generated);
        statuses.set(response.statusCode, (statuses.get(response.statusCode) ?? 0) + 1);
        if (response.statusCode >= 500) {
          failures.push(
            `${generated.method} ${generated.path} ${generated.body?.slice(0, 200)} → ${response.body}`,
          );
          return false;
        }
        const body = JSON.parse(response.body);
        // A refusal names its field path.
        return response.statusCode < 400 || typeof body.fieldPath === 'string';
      }),
      { numRuns: RUNS, seed: SEED, endOnFailure: true },
    );
    expect(failures).toEqual([]);
    // The requests reached the handlers: some were accepted, some refused at validation.
    expect([...statuses.keys()].some((status) => status < 300)).toBe(true);
    expect(statuses.get(400) ?? 0).toBeGreaterThan(0);
  });
});
