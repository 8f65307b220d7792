/**
 * The local API gateway's authorizers, over HTTP with a stub integration (the gateway is what is
 * under test): API Gateway's status codes and bodies for what it refuses, and the authorizer
 * context payload 2.0 gives the integration for what it lets through.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { importJWK, SignJWT, UnsecuredJWT } from 'jose';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { callerOf } from '#adapters/apigateway/caller.js';
import {
  ensureLocalAuth,
  issueLocalToken,
  issueLocalTokenDetails,
  LOCAL_JWT_AUDIENCE,
  LOCAL_JWT_ISSUER,
  LOCAL_OPERATOR_ARN,
  type LocalAuth,
  localCredentials,
} from '#local/auth/local-auth.js';
import { apiSigner, signedHeaders as signRequest } from '#local/demo/local-api.js';
import { type LocalApiGateway, startLocalApiGateway } from '#local/emulators/api-gateway.js';

interface Credentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
}

interface Sent {
  readonly method: string;
  /** Path and query, sent as given. */
  readonly path: string;
  readonly body?: string;
  readonly headers?: Record<string, string>;
}

interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly json: unknown;
}

let parent: string;
let authDir: string;
let auth: LocalAuth;
let gateway: LocalApiGateway;
let openGateway: LocalApiGateway;
const seen: APIGatewayProxyEventV2[] = [];

async function stubHandler(event: APIGatewayProxyEventV2) {
  seen.push(event);
  return { statusCode: 200, headers: { 'content-type': 'application/json' }, body: '{"reached":true}' };
}

beforeAll(async () => {
  parent = mkdtempSync(join(tmpdir(), 'runlane-gateway-auth-'));
  authDir = join(parent, 'auth');
  auth = await ensureLocalAuth(authDir);
  gateway = await startLocalApiGateway({ port: 0, handler: stubHandler, auth });
  openGateway = await startLocalApiGateway({ port: 0, handler: stubHandler, auth, authorization: 'none' });
});

afterAll(async () => {
  await gateway?.stop();
  await openGateway?.stop();
  rmSync(parent, { recursive: true, force: true });
});

beforeEach(() => {
  seen.length = 0;
});

/** One request over node:http, exactly as given (path not re-encoded, headers as listed). */
function send(base: string, sent: Sent): Promise<Answer> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: url.hostname,
        port: url.port,
        method: sent.method,
        path: sent.path,
        headers: {
          ...(sent.body === undefined ? {} : { 'content-type': 'application/json' }),
          ...sent.headers,
        },
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: unknown;
          try {
            json = JSON.parse(text);
          } catch {
            json = undefined;
          }
          resolve({ status: response.statusCode ?? 0, headers: response.headers, json });
        });
      },
    );
    req.on('error', reject);
    if (sent.body !== undefined) req.write(sent.body);
    req.end();
  });
}

/** SigV4 headers (service execute-api) for `sent` to `base`, as the local clients sign them. */
function signedHeaders(base: string, credentials: Credentials, sent: Sent): Promise<Record<string, string>> {
  return signRequest(
    apiSigner('us-east-1', async () => credentials),
    {
      url: `${base}${sent.path}`,
      method: sent.method,
      headers: {
        ...(sent.body === undefined ? {} : { 'content-type': 'application/json' }),
        ...sent.headers,
      },
      body: sent.body,
    },
  );
}

async function sendSigned(base: string, credentials: Credentials, sent: Sent): Promise<Answer> {
  return send(base, { ...sent, headers: await signedHeaders(base, credentials, sent) });
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const FORBIDDEN = { status: 403, json: { message: 'Forbidden' } };
const UNAUTHORIZED = { status: 401, json: { message: 'Unauthorized' } };
const HOUSEHOLD_RUNS = '/api/v1/agent/runs?correlationId=c-1';
const RESULTS_LAB = '/api/workers/sites/lab/results';
const RESULT_BODY = JSON.stringify({ worker_id: 'w-1', site: 'lab' });

describe('routes', () => {
  it('answers a path or method no route has with 404 {"message":"Not Found"}, before any authorizer', async () => {
    const token = await issueLocalToken(authDir, { householdId: 'hh-1' });
    for (const sent of [
      { method: 'GET', path: '/api/v1/nothing-here' },
      { method: 'DELETE', path: '/api/v1/runs/r-1' },
      { method: 'GET', path: '/api/v1/agent/conversations/c-1/messages', headers: bearer(token) },
      { method: 'GET', path: '/api/v1/runs/r-1/' },
    ]) {
      expect({ path: sent.path, ...(await send(gateway.url, sent)) }).toMatchObject({
        path: sent.path,
        status: 404,
        json: { message: 'Not Found' },
      });
    }
    expect(seen).toEqual([]);
  });
});

describe('household routes (JWT authorizer)', () => {
  it('pass a token of the local issuer on, its claims as strings in requestContext.authorizer.jwt', async () => {
    const issued = await issueLocalTokenDetails(authDir, {
      householdId: 'hh-1',
      role: 'approver',
      subject: 'ana',
    });

    const answer = await send(gateway.url, {
      method: 'GET',
      path: HOUSEHOLD_RUNS,
      headers: bearer(issued.token),
    });

    expect(answer).toMatchObject({ status: 200, json: { reached: true } });
    expect(seen).toHaveLength(1);
    const event = seen[0] as APIGatewayProxyEventV2 & {
      requestContext: { authorizer?: { jwt: { claims: Record<string, unknown>; scopes: unknown } } };
    };
    const exp = String(Math.floor(Date.parse(issued.expiresAt) / 1000));
    expect(event.requestContext.authorizer).toEqual({
      jwt: {
        claims: {
          iss: LOCAL_JWT_ISSUER,
          aud: LOCAL_JWT_AUDIENCE,
          sub: 'ana',
          iat: expect.stringMatching(/^\d+$/),
          exp,
          'custom:household': 'hh-1',
          'custom:runlane_role': 'approver',
        },
        scopes: null,
      },
    });
    expect(event.routeKey).toBe('GET /api/v1/agent/runs');
    expect(event.queryStringParameters).toEqual({ correlationId: 'c-1' });
    expect(callerOf(event, { environmentName: 'local' })).toEqual({
      kind: 'household',
      issuer: LOCAL_JWT_ISSUER,
      subject: 'ana',
      householdId: 'hh-1',
      role: 'approver',
    });
  });

  it('give the path parameters decoded and the route key of the template', async () => {
    const token = await issueLocalToken(authDir, { householdId: 'hh-1' });

    await send(gateway.url, {
      method: 'POST',
      path: '/api/v1/agent/conversations/c%201/messages',
      headers: bearer(token),
      body: '{}',
    });

    expect(seen[0]).toMatchObject({
      routeKey: 'POST /api/v1/agent/conversations/{conversationId}/messages',
      rawPath: '/api/v1/agent/conversations/c%201/messages',
      pathParameters: { conversationId: 'c 1' },
    });
  });

  it('refuse no token or a token the issuer did not sign for them with 401 {"message":"Unauthorized"}', async () => {
    const key = await importJWK(auth.signingKey, 'ES256');
    const inAnHour = Math.floor(Date.now() / 1000) + 3600;
    const claims = {
      iss: LOCAL_JWT_ISSUER,
      aud: LOCAL_JWT_AUDIENCE,
      sub: 's',
      exp: inAnHour,
      'custom:household': 'hh-1',
    };
    const otherParent = mkdtempSync(join(tmpdir(), 'runlane-gateway-other-'));
    const tokens = {
      expired: (
        await issueLocalTokenDetails(
          authDir,
          { householdId: 'hh-1', ttlSeconds: 60 },
          new Date(Date.now() - 7_200_000),
        )
      ).token,
      wrongIssuer: await new SignJWT({ ...claims, iss: 'https://issuer.example/' })
        .setProtectedHeader({ alg: 'ES256', kid: auth.signingKey.kid })
        .sign(key),
      wrongAudience: await new SignJWT({ ...claims, aud: 'another-app' })
        .setProtectedHeader({ alg: 'ES256', kid: auth.signingKey.kid })
        .sign(key),
      wrongKey: await issueLocalToken(join(otherParent, 'auth'), { householdId: 'hh-1' }),
      noneAlgorithm: new UnsecuredJWT(claims).encode(),
      notAToken: 'abc',
    };
    rmSync(otherParent, { recursive: true, force: true });

    const missing = await send(gateway.url, { method: 'GET', path: HOUSEHOLD_RUNS });
    expect(missing).toMatchObject(UNAUTHORIZED);
    expect(missing.headers['www-authenticate']).toBe('Bearer');
    for (const [name, token] of Object.entries(tokens)) {
      const answer = await send(gateway.url, { method: 'GET', path: HOUSEHOLD_RUNS, headers: bearer(token) });
      expect({ name, ...answer }).toMatchObject({ name, ...UNAUTHORIZED });
      expect(answer.headers['www-authenticate']).toMatch(/^Bearer .*error="invalid_token"/);
    }
    expect(seen).toEqual([]);
  });

  it('refuse SigV4 operator credentials (household routes want a user)', async () => {
    const operator = await localCredentials(authDir, { kind: 'operator' });

    expect(await sendSigned(gateway.url, operator, { method: 'GET', path: HOUSEHOLD_RUNS })).toMatchObject(
      UNAUTHORIZED,
    );
    expect(seen).toEqual([]);
  });
});

describe('operator and worker routes (IAM authorizer)', () => {
  it("let the operator's signed request through with its ARN in requestContext.authorizer.iam", async () => {
    const operator = await localCredentials(authDir, { kind: 'operator' });

    const answer = await sendSigned(gateway.url, operator, {
      method: 'GET',
      path: '/api/v1/review-queue?limit=5&cursor=a%2Fb',
    });

    expect(answer).toMatchObject({ status: 200, json: { reached: true } });
    const event = seen[0] as APIGatewayProxyEventV2 & { requestContext: { authorizer?: unknown } };
    expect(event.requestContext.authorizer).toEqual({
      iam: {
        accessKey: operator.accessKeyId,
        accountId: '000000000000',
        callerId: expect.stringMatching(/^AIDA[A-Z2-7]{16}$/),
        cognitoIdentity: null,
        principalOrgId: null,
        userArn: LOCAL_OPERATOR_ARN,
        userId: expect.stringMatching(/^AIDA[A-Z2-7]{16}$/),
      },
    });
    expect(callerOf(event, { environmentName: 'local' })).toEqual({
      kind: 'operator',
      principalArn: LOCAL_OPERATOR_ARN,
    });
  });

  it("let a worker post to its own site's routes, proven as that site's role session", async () => {
    const worker = await localCredentials(authDir, { kind: 'worker', site: 'lab', workerId: 'w-1' });

    const answer = await sendSigned(gateway.url, worker, {
      method: 'POST',
      path: RESULTS_LAB,
      body: RESULT_BODY,
    });

    expect(answer.status).toBe(200);
    const event = seen[0] as APIGatewayProxyEventV2;
    expect(event.body).toBe(RESULT_BODY);
    expect(callerOf(event, { environmentName: 'local' })).toEqual({
      kind: 'worker',
      principalArn: 'arn:aws:sts::000000000000:assumed-role/runlane-local-worker-lab/w-1',
      site: 'lab',
      workerId: 'w-1',
    });
    expect(event.requestContext).toMatchObject({
      authorizer: { iam: { userId: expect.stringMatching(/^AROA[A-Z2-7]{16}:w-1$/) } },
    });
  });

  it('refuse an unsigned request, a wrong secret or a household token with 403 {"message":"Forbidden"}', async () => {
    const operator = await localCredentials(authDir, { kind: 'operator' });
    const token = await issueLocalToken(authDir, { householdId: 'hh-1' });
    const sent = { method: 'GET', path: '/api/v1/runs/r-1' };

    expect(await send(gateway.url, sent)).toMatchObject(FORBIDDEN);
    expect(await sendSigned(gateway.url, { ...operator, secretAccessKey: 'guessed' }, sent)).toMatchObject(
      FORBIDDEN,
    );
    expect(
      await sendSigned(gateway.url, { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'x' }, sent),
    ).toMatchObject(FORBIDDEN);
    expect(await send(gateway.url, { ...sent, headers: bearer(token) })).toMatchObject(FORBIDDEN);
    expect(seen).toEqual([]);
  });

  it('refuse a request whose body or path changed after it was signed', async () => {
    const worker = await localCredentials(authDir, { kind: 'worker', site: 'lab', workerId: 'w-1' });
    const sent = { method: 'POST', path: RESULTS_LAB, body: RESULT_BODY };
    const headers = await signedHeaders(gateway.url, worker, sent);
    const { 'x-amz-content-sha256': _, ...withoutBodyHash } = headers;

    const otherBody = JSON.stringify({ worker_id: 'w-2', site: 'lab' });
    expect(await send(gateway.url, { ...sent, body: otherBody, headers })).toMatchObject(FORBIDDEN);
    // Without the body hash header the body is hashed for the signature: still refused.
    expect(await send(gateway.url, { ...sent, body: otherBody, headers: withoutBodyHash })).toMatchObject(
      FORBIDDEN,
    );
    expect(
      await send(gateway.url, { ...sent, path: '/api/workers/sites/lab/heartbeats', headers }),
    ).toMatchObject(FORBIDDEN);
    expect(await send(gateway.url, { ...sent, path: `${RESULTS_LAB}?extra=1`, headers })).toMatchObject(
      FORBIDDEN,
    );
    expect(seen).toEqual([]);
  });

  it("refuse a worker on another site's routes or on an operator route (its role's policy)", async () => {
    const worker = await localCredentials(authDir, { kind: 'worker', site: 'lab', workerId: 'w-1' });

    for (const sent of [
      { method: 'POST', path: '/api/workers/sites/other/results', body: RESULT_BODY },
      { method: 'POST', path: '/api/workers/sites/other/tasks/t-1/claim', body: RESULT_BODY },
      { method: 'GET', path: '/api/workers/health' },
      { method: 'GET', path: '/api/v1/runs/r-1' },
      { method: 'PUT', path: '/api/workers/delegation', body: '{}' },
    ]) {
      expect({ path: sent.path, ...(await sendSigned(gateway.url, worker, sent)) }).toMatchObject({
        path: sent.path,
        ...FORBIDDEN,
      });
    }
    expect(seen).toEqual([]);
  });

  it('refuse a runner host on every IAM route (its policy only puts events)', async () => {
    const runner = await localCredentials(authDir, { kind: 'runner', host: 'runner-1' });

    for (const sent of [
      { method: 'GET', path: '/api/v1/runs/r-1' },
      { method: 'POST', path: RESULTS_LAB, body: RESULT_BODY },
    ]) {
      expect({ path: sent.path, ...(await sendSigned(gateway.url, runner, sent)) }).toMatchObject({
        path: sent.path,
        ...FORBIDDEN,
      });
    }
    expect(seen).toEqual([]);
  });

  it('accept a worker whose credentials were made after the gateway started (another process)', async () => {
    const late = await localCredentials(authDir, { kind: 'worker', site: 'lab', workerId: 'late-joiner' });

    const answer = await sendSigned(gateway.url, late, {
      method: 'POST',
      path: '/api/workers/sites/lab/heartbeats',
      body: '{}',
    });

    expect(answer.status).toBe(200);
  });
});

describe('api.authorization none (sandboxes)', () => {
  it('lets unsigned requests reach operator and worker routes without an authorizer context', async () => {
    const answer = await send(openGateway.url, { method: 'GET', path: '/api/v1/runs/r-1' });

    expect(answer.status).toBe(200);
    expect(seen).toHaveLength(1);
    expect(seen[0]?.requestContext).not.toHaveProperty('authorizer');
  });

  it('still wants a token on household routes', async () => {
    expect(await send(openGateway.url, { method: 'GET', path: HOUSEHOLD_RUNS })).toMatchObject(UNAUTHORIZED);
  });
});
