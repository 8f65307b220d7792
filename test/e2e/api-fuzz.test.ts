import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { API_ROUTES, type RouteName } from '#contracts/api-routes.js';
import { issueLocalToken, localCredentials } from '#local/auth/local-auth.js';
import { callApi, type TestApiRequest, type TestCredentials } from '../support/api-callers.js';
import { useTestLocalStack } from '../support/test-local-stack.js';
import { aHeartbeat } from '../support/worker-fixtures.js';

/**
 * Property: no request a client can send makes the API answer 5xx (a client mistake is a 4xx
 * naming its field path). fast-check generates requests over every route, mostly with valid
 * credentials of the route's kind so they reach the handler: fuzzed path parameters (bad
 * percent-encoding, unicode, dots), query strings, content types, Idempotency-Keys and bodies
 * (valid bodies with one field replaced by anything, arbitrary JSON, deep nesting, empty keys,
 * broken JSON). Sent against the local stack, which runs the deployed handler code behind the
 * same authorizers.
 */
const REQUESTS = 10_000;
const CONCURRENCY = 8;
const SEED = 20261208;

const ROUTE_NAMES = Object.keys(API_ROUTES) as RouteName[];
const HOUSEHOLD = 'hh-fuzz';

const segment = fc.oneof(
  fc.constantFrom('%', '%zz', '%E0%A4%A', '..', '.', '%00', '%2F', 'a%20b', '~', "'", '"', '<x>'),
  fc.uuid(),
  fc.string({ minLength: 1, maxLength: 40 }).map((s) => encodeURIComponent(s)),
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 20 }).map((s) => encodeURIComponent(s)),
  fc.stringMatching(/^[A-Za-z0-9_-]{1,140}$/),
  fc.constant(`apr-${'0'.repeat(24)}`),
);

/** `{"a":{"a":…}}` this deep. */
function nested(depth: number): unknown {
  let value: unknown = 'leaf';
  for (let level = 0; level < depth; level += 1) value = { a: value };
  return value;
}

function validBody(route: RouteName): Record<string, unknown> | undefined {
  switch (route) {
    case 'postMessage':
      return { householdId: HOUSEHOLD, text: 'hello' };
    case 'postApproval':
      return { householdId: HOUSEHOLD, decision: 'reject', rationale: 'fuzz' };
    case 'claimWorkerTask':
      return { worker_id: 'w-fuzz', site: 'lab', attempt: 1 };
    case 'postWorkerHeartbeat':
      return {
        ...aHeartbeat({ environment: 'local', worker_id: 'w-fuzz', site: 'lab' }),
        ts: new Date().toISOString(),
      };
    case 'postWorkerResult':
      return {
        id: randomUUID(),
        ts: new Date().toISOString(),
        host: 'h',
        environment: 'local',
        kind: 'result',
        worker_id: 'w-fuzz',
        site: 'lab',
        task_id: randomUUID(),
        attempt: 1,
        payload_type: 'execution_result',
        payload: { exit_code: 0, stdout: '', stderr: '', duration_ms: 1 },
      };
    case 'putWorkerDelegation':
      return { enabled: false };
    default:
      return undefined;
  }
}

const bodyOf = (route: RouteName) =>
  fc.oneof(
    { weight: 4, arbitrary: fc.constant(validBody(route)).map((b) => (b ? JSON.stringify(b) : undefined)) },
    {
      weight: 6,
      arbitrary: fc
        .record({ field: fc.string({ maxLength: 12 }), value: fc.jsonValue({ maxDepth: 4 }) })
        .map(({ field, value }) => {
          const base = validBody(route) ?? {};
          const keys = Object.keys(base);
          const key = keys.length > 0 && field.length % 2 === 0 ? keys[field.length % keys.length] : field;
          return JSON.stringify({ ...base, [key ?? field]: value });
        }),
    },
    { weight: 3, arbitrary: fc.json({ maxDepth: 5 }) },
    { weight: 1, arbitrary: fc.integer({ min: 1, max: 400 }).map((depth) => JSON.stringify(nested(depth))) },
    {
      weight: 1,
      arbitrary: fc
        .constant(validBody(route))
        .map((b) => JSON.stringify({ ...(b ?? {}), '': 'empty key', payload: { '': { '': 1 } } })),
    },
    { weight: 2, arbitrary: fc.string({ maxLength: 200 }) },
    { weight: 1, arbitrary: fc.constant(undefined) },
  );

interface Generated {
  readonly route: RouteName;
  readonly request: Omit<TestApiRequest, 'as'>;
  readonly credentials: 'route' | 'none' | 'garbage';
}

const requestArbitrary: fc.Arbitrary<Generated> = fc
  .constantFrom(...ROUTE_NAMES)
  .chain((route) =>
    fc.record({
      route: fc.constant(route),
      params: fc.dictionary(
        fc.constantFrom('conversationId', 'approvalId', 'runId', 'site', 'taskId'),
        segment,
      ),
      validParams: fc.boolean(),
      query: fc.oneof(
        fc.constant(''),
        fc.constantFrom('?limit=5', '?limit=0', '?limit=abc', '?limit=1e9', '?cursor=%%%', '?correlationId='),
        fc
          .record({
            name: fc.constantFrom('limit', 'cursor', 'correlationId', 'x'),
            value: fc.string({ maxLength: 300 }),
          })
          .map(({ name, value }) => `?${name}=${encodeURIComponent(value)}`),
      ),
      body: bodyOf(route),
      contentType: fc.constantFrom(
        'application/json',
        'application/json; charset=utf-8',
        'text/plain',
        undefined,
      ),
      idempotencyKey: fc.option(
        fc.oneof(fc.stringMatching(/^[A-Za-z0-9_.:-]{1,128}$/), fc.string({ maxLength: 200 })),
      ),
      credentials: fc.constantFrom<Generated['credentials']>(
        'route',
        'route',
        'route',
        'route',
        'none',
        'garbage',
      ),
      method: fc.option(fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH'), { freq: 8 }),
    }),
  )
  .map(({ route, params, validParams, query, body, contentType, idempotencyKey, credentials, method }) => {
    const defaults: Record<string, string> = {
      conversationId: 'conv-fuzz',
      approvalId: `apr-${'0'.repeat(24)}`,
      runId: randomUUID(),
      site: 'lab',
      taskId: randomUUID(),
    };
    const path = API_ROUTES[route].path.replace(/\{(\w+)\}/g, (_, name: string) =>
      validParams ? (defaults[name] ?? 'x') : (params[name] ?? defaults[name] ?? 'x'),
    );
    const headers: Record<string, string> = {};
    if (contentType !== undefined) headers['content-type'] = contentType;
    if (idempotencyKey !== null) {
      // Header values must be ByteStrings; anything else is the HTTP client's refusal, not the API's.
      headers['idempotency-key'] = idempotencyKey.replace(/[^\x20-\x7e]/g, '?');
    }
    return {
      route,
      credentials,
      request: {
        method: method ?? API_ROUTES[route].method,
        path: `${path}${query}`,
        ...(body !== undefined ? { body } : {}),
        headers,
      },
    };
  });

describe('API fuzz: generated requests on every route of the local stack', () => {
  const stack = useTestLocalStack();
  const credentialsFor = {} as Record<'household' | 'approver' | 'operator' | 'worker', TestCredentials>;

  beforeAll(async () => {
    const { authDir } = stack().info;
    credentialsFor.household = {
      kind: 'bearer',
      token: await issueLocalToken(authDir, {
        householdId: HOUSEHOLD,
        role: 'member',
        subject: 'fuzz-member',
      }),
    };
    credentialsFor.approver = {
      kind: 'bearer',
      token: await issueLocalToken(authDir, {
        householdId: HOUSEHOLD,
        role: 'approver',
        subject: 'fuzz-approver',
      }),
    };
    credentialsFor.operator = {
      kind: 'sigv4',
      credentials: await localCredentials(authDir, { kind: 'operator' }),
    };
    credentialsFor.worker = {
      kind: 'sigv4',
      credentials: await localCredentials(authDir, { kind: 'worker', site: 'lab', workerId: 'w-fuzz' }),
    };
  });

  function credentials(generated: Generated): TestCredentials {
    if (generated.credentials === 'none') return { kind: 'none' };
    if (generated.credentials === 'garbage') return { kind: 'bearer', token: 'not.a.jwt' };
    const { group } = API_ROUTES[generated.route];
    if (group === 'household')
      return generated.route === 'postApproval' ? credentialsFor.approver : credentialsFor.household;
    return group === 'worker' ? credentialsFor.worker : credentialsFor.operator;
  }

  it(`answers ${REQUESTS} generated requests with 0 responses ≥ 500`, async () => {
    const samples = fc.sample(requestArbitrary, { numRuns: REQUESTS, seed: SEED });
    const statuses = new Map<number, number>();
    const serverErrors: string[] = [];
    let next = 0;
    async function lane(): Promise<void> {
      while (next < samples.length) {
        const generated = samples[next++] as Generated;
        const response = await callApi(stack().info.apiUrl, {
          ...generated.request,
          as: credentials(generated),
        });
        statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
        if (response.status >= 500 && serverErrors.length < 20) {
          serverErrors.push(
            `${generated.request.method} ${generated.request.path} body=${(generated.request.body ?? '').slice(0, 200)} → ${response.status} ${response.text.slice(0, 200)}`,
          );
        }
      }
    }
    await Promise.all(Array.from({ length: CONCURRENCY }, lane));
    console.info(
      'api fuzz: responses by status',
      Object.fromEntries([...statuses].sort(([a], [b]) => a - b)),
    );
    const total = [...statuses.values()].reduce((sum, count) => sum + count, 0);
    expect(total).toBe(REQUESTS);
    // The fuzz reached the handlers, not only the authorizers: some 2xx and some handler 4xx.
    expect([...statuses.keys()].some((status) => status >= 200 && status < 300)).toBe(true);
    expect(statuses.get(400) ?? 0).toBeGreaterThan(0);
    expect(serverErrors).toEqual([]);
  }, 600_000);
});
