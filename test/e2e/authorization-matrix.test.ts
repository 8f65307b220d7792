import { randomUUID } from 'node:crypto';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { API_ROUTES, type RouteName } from '#contracts/api-routes.js';
import { issueLocalToken, localCredentials } from '#local/auth/local-auth.js';
import { pendingApprovalItems } from '#local/stack/seed-approval.js';
import { callApi, type TestCredentials } from '../support/api-callers.js';
import { localStackTable, useTestLocalStack } from '../support/test-local-stack.js';
import { aHeartbeat } from '../support/worker-fixtures.js';

/**
 * DESIGN §7 on the local stack, which proves identities the way AWS does (JWT authorizer on
 * household routes, SigV4 + IAM policy on the others): every route × every kind of caller gives
 * the expected status. `allow` means the request got past authorization (any status but
 * 401/403); a refusal must be exactly the status listed. Zero unexpected allows.
 */
const CALLERS = [
  'none',
  'memberH1',
  'memberH2',
  'approverH1',
  'approverH2',
  'operator',
  'workerLab',
  'workerLab2',
  'runnerHost',
] as const;
type CallerName = (typeof CALLERS)[number];
type Expected = 'allow' | 401 | 403 | 404;

const HOUSEHOLD = 'hh-matrix-1';
const CONVERSATION = 'conv-matrix';

/** Household routes: JWT. A SigV4 or missing Authorization is not a bearer token → 401. */
function householdRow(
  member: Expected,
  otherMember: Expected,
  approverRoute = false,
): Record<CallerName, Expected> {
  return {
    none: 401,
    memberH1: approverRoute ? 403 : member,
    memberH2: otherMember,
    approverH1: 'allow',
    approverH2: otherMember,
    operator: 401,
    workerLab: 401,
    workerLab2: 401,
    runnerHost: 401,
  };
}

/** Operator routes: IAM, operators only. */
const OPERATOR_ROW: Record<CallerName, Expected> = {
  none: 403,
  memberH1: 403,
  memberH2: 403,
  approverH1: 403,
  approverH2: 403,
  operator: 'allow',
  workerLab: 403,
  workerLab2: 403,
  runnerHost: 403,
};

/** Worker routes of site `lab`: IAM, that site's workers only. */
const WORKER_ROW: Record<CallerName, Expected> = {
  ...OPERATOR_ROW,
  operator: 403,
  workerLab: 'allow',
};

const EXPECTED: Record<RouteName, Record<CallerName, Expected>> = {
  postMessage: householdRow('allow', 403),
  postApproval: householdRow('allow', 403, true),
  getHouseholdRun: householdRow('allow', 404),
  listHouseholdRuns: householdRow('allow', 'allow'),
  getRun: OPERATOR_ROW,
  listRuns: OPERATOR_ROW,
  reviewQueue: OPERATOR_ROW,
  claimWorkerTask: WORKER_ROW,
  postWorkerResult: WORKER_ROW,
  postWorkerHeartbeat: WORKER_ROW,
  workerHealth: OPERATOR_ROW,
  workerMetrics: OPERATOR_ROW,
  getWorkerDelegation: OPERATOR_ROW,
  putWorkerDelegation: OPERATOR_ROW,
};

describe('authorization matrix on the local stack (every route × every caller)', () => {
  const stack = useTestLocalStack({ workers: { sites: ['lab', 'lab2'] } });
  const as = {} as Record<CallerName, TestCredentials>;
  let seeded: { approvalId: string; runId: string; correlationId: string };

  beforeAll(async () => {
    const { authDir } = stack().info;
    const token = async (householdId: string, role: 'member' | 'approver') => ({
      kind: 'bearer' as const,
      token: await issueLocalToken(authDir, { householdId, role, subject: `${role}@${householdId}` }),
    });
    const sigv4 = async (principal: Parameters<typeof localCredentials>[1]) => ({
      kind: 'sigv4' as const,
      credentials: await localCredentials(authDir, principal),
    });
    Object.assign(as, {
      none: { kind: 'none' },
      memberH1: await token(HOUSEHOLD, 'member'),
      memberH2: await token('hh-matrix-2', 'member'),
      approverH1: await token(HOUSEHOLD, 'approver'),
      approverH2: await token('hh-matrix-2', 'approver'),
      operator: await sigv4({ kind: 'operator' }),
      workerLab: await sigv4({ kind: 'worker', site: 'lab', workerId: 'w-lab-1' }),
      workerLab2: await sigv4({ kind: 'worker', site: 'lab2', workerId: 'w-lab2-1' }),
      runnerHost: await sigv4({ kind: 'runner', host: 'runner-1' }),
    });
    const requestedBy = randomUUID();
    const { approvalId, items } = pendingApprovalItems({
      householdId: HOUSEHOLD,
      conversationId: CONVERSATION,
      requestedBy,
      action: {
        action: 'transfer_funds',
        impact: 'high',
        summary: 'matrix transfer',
        parameters: { amount: 1 },
      },
      now: new Date(),
    });
    const { client, tableName } = localStackTable(stack());
    for (const Item of items) await client.send(new PutCommand({ TableName: tableName, Item }));
    seeded = {
      approvalId,
      runId: requestedBy,
      correlationId: `agent:${HOUSEHOLD}:${CONVERSATION}:${requestedBy}`,
    };
  });

  /** A well-formed request for the route, as its rightful caller would send it. */
  function requestFor(route: RouteName, caller: CallerName) {
    const workerBody = (site: string) => ({ worker_id: 'w-lab-1', site });
    switch (route) {
      case 'postMessage':
        return {
          path: `/api/v1/agent/conversations/${CONVERSATION}/messages`,
          body: { householdId: HOUSEHOLD, text: `matrix ${caller}` },
        };
      case 'postApproval':
        return {
          path: `/api/v1/agent/conversations/${CONVERSATION}/approvals/${seeded.approvalId}`,
          body: { householdId: HOUSEHOLD, decision: 'reject', rationale: `matrix ${caller}` },
        };
      case 'getHouseholdRun':
        return { path: `/api/v1/agent/runs/${seeded.runId}` };
      case 'listHouseholdRuns':
        return { path: `/api/v1/agent/runs?correlationId=${encodeURIComponent(seeded.correlationId)}` };
      case 'getRun':
        return { path: `/api/v1/runs/${seeded.runId}` };
      case 'listRuns':
        return { path: `/api/v1/runs?correlationId=${encodeURIComponent(seeded.correlationId)}` };
      case 'reviewQueue':
        return { path: '/api/v1/review-queue?limit=5' };
      case 'claimWorkerTask':
        return {
          path: `/api/workers/sites/lab/tasks/${randomUUID()}/claim`,
          body: { ...workerBody('lab'), attempt: 1 },
        };
      case 'postWorkerResult':
        return {
          path: '/api/workers/sites/lab/results',
          body: {
            id: randomUUID(),
            ts: new Date().toISOString(),
            host: 'host-lab',
            environment: 'local',
            kind: 'result',
            ...workerBody('lab'),
            task_id: randomUUID(),
            attempt: 1,
            payload_type: 'execution_result',
            payload: { exit_code: 0, stdout: 'ok', stderr: '', duration_ms: 1 },
          },
        };
      case 'postWorkerHeartbeat':
        return {
          path: '/api/workers/sites/lab/heartbeats',
          body: aHeartbeat({
            environment: 'local',
            worker_id: 'w-lab-1',
            site: 'lab',
            ts: new Date().toISOString(),
          }),
        };
      case 'workerHealth':
        return { path: '/api/workers/health' };
      case 'workerMetrics':
        return { path: '/api/workers/metrics' };
      case 'getWorkerDelegation':
        return { path: '/api/workers/delegation' };
      case 'putWorkerDelegation':
        return { path: '/api/workers/delegation', body: { enabled: false } };
    }
  }

  it('gives each route × caller the expected status: 0 unexpected allows, 0 unexpected refusals', async () => {
    const cells: string[] = [];
    const unexpected: string[] = [];
    for (const route of Object.keys(API_ROUTES) as RouteName[]) {
      for (const caller of CALLERS) {
        const { path, body } = requestFor(route, caller);
        const response = await callApi(stack().info.apiUrl, {
          method: API_ROUTES[route].method,
          path,
          ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
          as: as[caller],
        });
        const expected = EXPECTED[route][caller];
        const refused = response.status === 401 || response.status === 403;
        const ok = expected === 'allow' ? !refused && response.status < 500 : response.status === expected;
        cells.push(`${route} × ${caller}: ${response.status}`);
        if (!ok)
          unexpected.push(
            `${route} × ${caller}: expected ${expected}, got ${response.status} ${response.text.slice(0, 200)}`,
          );
      }
    }
    expect(cells).toHaveLength(Object.keys(API_ROUTES).length * CALLERS.length);
    expect(unexpected).toEqual([]);
  }, 120_000);

  it("shows a member of another household none of this household's runs", async () => {
    const response = await callApi(stack().info.apiUrl, {
      method: 'GET',
      path: `/api/v1/agent/runs?correlationId=${encodeURIComponent(seeded.correlationId)}`,
      as: as.memberH2,
    });
    expect(response.status).toBe(200);
    expect((response.json as { runs: unknown[] }).runs).toEqual([]);
    const own = await callApi(stack().info.apiUrl, {
      method: 'GET',
      path: `/api/v1/agent/runs?correlationId=${encodeURIComponent(seeded.correlationId)}`,
      as: as.memberH1,
    });
    expect((own.json as { runs: { runId: string }[] }).runs.map((run) => run.runId)).toEqual([seeded.runId]);
  });
});
