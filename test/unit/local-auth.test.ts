import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignatureV4 } from '@smithy/signature-v4';
import { decodeJwt, decodeProtectedHeader, importJWK, SignJWT, UnsecuredJWT } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import { NodeSha256 } from '#common/sigv4.js';
import {
  ensureLocalAuth,
  issueLocalToken,
  issueLocalTokenDetails,
  LOCAL_JWT_AUDIENCE,
  LOCAL_JWT_ISSUER,
  LOCAL_OPERATOR_ARN,
  localCredentials,
  mayInvoke,
  verifyLocalToken,
  verifySignedRequest,
} from '#local/auth/local-auth.js';

const folders: string[] = [];

function freshAuthDir(): string {
  const parent = mkdtempSync(join(tmpdir(), 'runlane-local-auth-test-'));
  folders.push(parent);
  return join(parent, 'auth');
}

afterEach(() => {
  for (const folder of folders.splice(0)) rmSync(folder, { recursive: true, force: true });
});

const mode = (path: string) => statSync(path).mode & 0o777;

describe('the auth folder', () => {
  it('is created 0700 with its key and credentials 0600, the operator among the principals', async () => {
    const dir = freshAuthDir();

    const auth = await ensureLocalAuth(dir);

    expect(auth.dir).toBe(dir);
    expect(mode(dir)).toBe(0o700);
    expect(mode(join(dir, 'jwt-signing-key.json'))).toBe(0o600);
    expect(mode(join(dir, 'credentials.json'))).toBe(0o600);
    const key = JSON.parse(readFileSync(join(dir, 'jwt-signing-key.json'), 'utf8'));
    expect(key).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', kid: expect.any(String) });
    expect(key.d).toEqual(expect.any(String));
    const { principals } = JSON.parse(readFileSync(join(dir, 'credentials.json'), 'utf8'));
    expect(principals).toEqual([
      {
        name: 'operator',
        accessKeyId: expect.stringMatching(/^AKIA[A-Z2-7]{16}$/),
        secretAccessKey: expect.any(String),
        arn: 'arn:aws:iam::000000000000:user/runlane-local-operator',
      },
    ]);
  });

  it('keeps its key and credentials when opened again, and takes back loosened modes', async () => {
    const dir = freshAuthDir();
    const first = await ensureLocalAuth(dir);
    const operator = await localCredentials(dir, { kind: 'operator' });
    await chmod(dir, 0o755);
    await chmod(join(dir, 'credentials.json'), 0o644);
    await chmod(join(dir, 'jwt-signing-key.json'), 0o644);

    const second = await ensureLocalAuth(dir);

    expect(second.signingKey).toEqual(first.signingKey);
    expect(await localCredentials(dir, { kind: 'operator' })).toEqual(operator);
    expect(mode(dir)).toBe(0o700);
    expect(mode(join(dir, 'credentials.json'))).toBe(0o600);
    expect(mode(join(dir, 'jwt-signing-key.json'))).toBe(0o600);
  });

  it('opened by several processes at once keeps one key', async () => {
    const dir = freshAuthDir();

    const opened = await Promise.all(Array.from({ length: 8 }, () => ensureLocalAuth(dir)));

    expect(new Set(opened.map((auth) => auth.signingKey.kid)).size).toBe(1);
    const onDisk = JSON.parse(readFileSync(join(dir, 'jwt-signing-key.json'), 'utf8'));
    expect(onDisk.kid).toBe(opened[0]?.signingKey.kid);
  });
});

describe('localCredentials', () => {
  it("stores a worker's credentials under its site role's session ARN, the same ones each time", async () => {
    const dir = freshAuthDir();

    const worker = await localCredentials(dir, { kind: 'worker', site: 'lab', workerId: 'w-1' });
    const again = await localCredentials(dir, { kind: 'worker', site: 'lab', workerId: 'w-1' });
    const operator = await localCredentials(dir, { kind: 'operator' });

    expect(again).toEqual(worker);
    expect(worker.accessKeyId).toMatch(/^ASIA[A-Z2-7]{16}$/);
    expect(worker.accessKeyId).not.toBe(operator.accessKeyId);
    const auth = await ensureLocalAuth(dir);
    expect(await auth.principalByAccessKey(worker.accessKeyId)).toMatchObject({
      name: 'worker/lab/w-1',
      arn: 'arn:aws:sts::000000000000:assumed-role/runlane-local-worker-lab/w-1',
      secretAccessKey: worker.secretAccessKey,
    });
  });

  it('keeps every principal added by concurrent callers (the file is locked while it changes)', async () => {
    const dir = freshAuthDir();
    await ensureLocalAuth(dir);

    const created = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        localCredentials(dir, { kind: 'worker', site: 'lab', workerId: `w-${i}` }),
      ),
    );

    const { principals } = JSON.parse(readFileSync(join(dir, 'credentials.json'), 'utf8'));
    expect(principals).toHaveLength(13);
    for (const credentials of created)
      expect(principals).toContainEqual(expect.objectContaining({ accessKeyId: credentials.accessKeyId }));
  });

  it("stores a runner host's credentials under a user of its own", async () => {
    const dir = freshAuthDir();

    const runner = await localCredentials(dir, { kind: 'runner', host: 'runner-1' });

    const auth = await ensureLocalAuth(dir);
    expect(await auth.principalByAccessKey(runner.accessKeyId)).toMatchObject({
      name: 'runner/runner-1',
      arn: 'arn:aws:iam::000000000000:user/runlane-local-runner-runner-1',
    });
  });

  it('refuses a site or worker id an IAM role or session name could not carry', async () => {
    const dir = freshAuthDir();

    await expect(localCredentials(dir, { kind: 'worker', site: 'lab/x', workerId: 'w-1' })).rejects.toThrow(
      /site "lab\/x"/,
    );
    await expect(localCredentials(dir, { kind: 'worker', site: 'lab', workerId: 'a/b' })).rejects.toThrow(
      /workerId "a\/b"/,
    );
  });

  it('a principal added after the folder was opened is found by its access key (another process added it)', async () => {
    const dir = freshAuthDir();
    const auth = await ensureLocalAuth(dir);

    const late = await localCredentials(dir, { kind: 'worker', site: 'lab', workerId: 'late' });

    expect((await auth.principalByAccessKey(late.accessKeyId))?.name).toBe('worker/lab/late');
    expect(await auth.principalByAccessKey('AKIAUNKNOWNUNKNOWN00')).toBeUndefined();
  });
});

describe('local tokens', () => {
  it('carry iss, aud, sub, iat, exp, the household and the role, signed ES256 with the key id', async () => {
    const dir = freshAuthDir();
    const now = new Date('2026-12-08T10:00:00Z');

    const issued = await issueLocalTokenDetails(
      dir,
      { householdId: 'hh-1', role: 'approver', subject: 'ana', ttlSeconds: 600 },
      now,
    );

    const auth = await ensureLocalAuth(dir);
    expect(decodeProtectedHeader(issued.token)).toMatchObject({ alg: 'ES256', kid: auth.signingKey.kid });
    expect(decodeJwt(issued.token)).toEqual({
      iss: LOCAL_JWT_ISSUER,
      aud: LOCAL_JWT_AUDIENCE,
      sub: 'ana',
      iat: now.getTime() / 1000,
      exp: now.getTime() / 1000 + 600,
      'custom:household': 'hh-1',
      'custom:runlane_role': 'approver',
    });
    expect(issued).toMatchObject({
      expiresAt: '2026-12-08T10:10:00.000Z',
      householdId: 'hh-1',
      role: 'approver',
      subject: 'ana',
    });
  });

  it('default to a member whose subject names the role and household', async () => {
    const token = await issueLocalToken(freshAuthDir(), { householdId: 'hh-2' });

    expect(decodeJwt(token)).toMatchObject({ sub: 'member@hh-2', 'custom:runlane_role': 'member' });
  });

  it("verify against the folder's key, and only then", async () => {
    const dir = freshAuthDir();
    const auth = await ensureLocalAuth(dir);
    const key = await importJWK(auth.signingKey, 'ES256');
    const signed = (claims: Record<string, unknown>, header: Record<string, unknown> = {}) =>
      new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid: auth.signingKey.kid, ...header }).sign(key);
    const inAnHour = Math.floor(Date.now() / 1000) + 3600;
    const standard = { iss: LOCAL_JWT_ISSUER, aud: LOCAL_JWT_AUDIENCE, sub: 's', exp: inAnHour };

    const valid = await verifyLocalToken(auth, await issueLocalToken(dir, { householdId: 'hh-1' }));
    expect(valid).toMatchObject({ ok: true, claims: { 'custom:household': 'hh-1' } });

    const refusals = {
      expired: await issueLocalTokenDetails(
        dir,
        { householdId: 'hh-1', ttlSeconds: 60 },
        new Date(Date.now() - 3_600_000),
      ).then((issued) => issued.token),
      otherIssuer: await signed({ ...standard, iss: 'https://evil.example/' }),
      otherAudience: await signed({ ...standard, aud: 'someone-else' }),
      noExpiry: await signed({ iss: LOCAL_JWT_ISSUER, aud: LOCAL_JWT_AUDIENCE, sub: 's' }),
      otherKid: await signed(standard, { kid: 'another-key' }),
      otherKey: await issueLocalToken(freshAuthDir(), { householdId: 'hh-1' }),
      unsigned: new UnsecuredJWT(standard).encode(),
      garbage: 'not.a.token',
    };
    for (const [name, token] of Object.entries(refusals)) {
      expect({ name, check: await verifyLocalToken(auth, token) }).toMatchObject({
        name,
        check: { ok: false },
      });
    }
    expect(await verifyLocalToken(auth, refusals.expired)).toEqual({
      ok: false,
      reason: 'the token has expired',
    });
    expect(await verifyLocalToken(auth, refusals.otherKey)).toEqual({
      ok: false,
      reason: 'the token does not have a valid signature',
    });
  });
});

describe('SigV4 verification', () => {
  const HOST = '127.0.0.1:3000';

  async function signedRequest(
    credentials: { accessKeyId: string; secretAccessKey: string },
    request: { method: string; path: string; query?: Record<string, string>; body?: string },
    options: { applyChecksum?: boolean; service?: string; signingDate?: Date } = {},
  ) {
    const signer = new SignatureV4({
      service: options.service ?? 'execute-api',
      region: 'eu-west-1',
      credentials,
      sha256: NodeSha256,
      ...(options.applyChecksum === undefined ? {} : { applyChecksum: options.applyChecksum }),
    });
    const signed = await signer.sign(
      {
        method: request.method,
        protocol: 'http:',
        hostname: '127.0.0.1',
        port: 3000,
        path: request.path,
        query: request.query ?? {},
        headers: { host: HOST, 'content-type': 'application/json' },
        ...(request.body === undefined ? {} : { body: request.body }),
      },
      options.signingDate ? { signingDate: options.signingDate } : {},
    );
    return {
      method: request.method,
      rawPath: request.path,
      query: new URLSearchParams(request.query ?? {}),
      headers: signed.headers as Record<string, string>,
      body: Buffer.from(request.body ?? ''),
    };
  }

  it('proves the principal that signed, with or without x-amz-content-sha256, in any region', async () => {
    const dir = freshAuthDir();
    const auth = await ensureLocalAuth(dir);
    const worker = await localCredentials(dir, { kind: 'worker', site: 'lab', workerId: 'w-1' });
    const request = { method: 'POST', path: '/api/workers/sites/lab/results', body: '{"a":1}' };

    for (const applyChecksum of [true, false]) {
      const check = await verifySignedRequest(auth, await signedRequest(worker, request, { applyChecksum }));
      expect(check).toMatchObject({ ok: true, principal: { name: 'worker/lab/w-1' } });
    }
    const withQuery = await signedRequest(await localCredentials(dir, { kind: 'operator' }), {
      method: 'GET',
      path: '/api/v1/review-queue',
      query: { limit: '5', cursor: 'a b/c' },
    });
    expect(await verifySignedRequest(auth, withQuery)).toMatchObject({
      ok: true,
      principal: { arn: LOCAL_OPERATOR_ARN },
    });
  });

  it('refuses what AWS refuses: no signature, a wrong secret, an unknown key, another service, an old date', async () => {
    const dir = freshAuthDir();
    const auth = await ensureLocalAuth(dir);
    const operator = await localCredentials(dir, { kind: 'operator' });
    const request = { method: 'GET', path: '/api/v1/runs' };
    const valid = await signedRequest(operator, request);
    const { authorization: _, ...unsigned } = valid.headers;

    const refusals = {
      unsigned: { ...valid, headers: unsigned },
      wrongSecret: await signedRequest({ ...operator, secretAccessKey: 'not-the-secret' }, request),
      unknownKey: await signedRequest({ accessKeyId: 'AKIAAAAAAAAAAAAAAAAA', secretAccessKey: 'x' }, request),
      otherService: await signedRequest(operator, request, { service: 'lambda' }),
      sixMinutesOld: await signedRequest(operator, request, {
        signingDate: new Date(Date.now() - 6 * 60_000),
      }),
      sixMinutesAhead: await signedRequest(operator, request, {
        signingDate: new Date(Date.now() + 6 * 60_000),
      }),
      withSessionToken: { ...valid, headers: { ...valid.headers, 'x-amz-security-token': 'token' } },
    };
    for (const [name, received] of Object.entries(refusals)) {
      expect({ name, check: await verifySignedRequest(auth, received) }).toMatchObject({
        name,
        check: { ok: false },
      });
    }
    expect(await verifySignedRequest(auth, refusals.wrongSecret)).toEqual({
      ok: false,
      reason: 'signature does not match',
    });
  });

  it('refuses a request changed after signing: body, path, query, a signed header', async () => {
    const dir = freshAuthDir();
    const auth = await ensureLocalAuth(dir);
    const worker = await localCredentials(dir, { kind: 'worker', site: 'lab', workerId: 'w-1' });
    const checksummed = await signedRequest(
      worker,
      { method: 'POST', path: '/api/workers/sites/lab/results', query: { a: '1' }, body: '{"ok":true}' },
      { applyChecksum: true },
    );
    const bare = await signedRequest(
      worker,
      { method: 'POST', path: '/api/workers/sites/lab/results', query: { a: '1' }, body: '{"ok":true}' },
      { applyChecksum: false },
    );

    for (const valid of [checksummed, bare]) {
      expect((await verifySignedRequest(auth, valid)).ok).toBe(true);
      const tampered = {
        body: { ...valid, body: Buffer.from('{"ok":false}') },
        path: { ...valid, rawPath: '/api/workers/sites/other/results' },
        query: { ...valid, query: new URLSearchParams({ a: '2' }) },
        method: { ...valid, method: 'PUT' },
        header: { ...valid, headers: { ...valid.headers, 'content-type': 'text/plain' } },
        host: { ...valid, headers: { ...valid.headers, host: 'elsewhere:3000' } },
      };
      for (const [name, received] of Object.entries(tampered)) {
        expect({ name, check: await verifySignedRequest(auth, received) }).toMatchObject({
          name,
          check: { ok: false },
        });
      }
    }
  });
});

describe('the emulated IAM policies', () => {
  const worker = {
    name: 'worker/lab/w-1',
    arn: 'arn:aws:sts::000000000000:assumed-role/runlane-local-worker-lab/w-1',
  };
  const operator = { name: 'operator', arn: LOCAL_OPERATOR_ARN };
  const runner = { name: 'runner/r-1', arn: 'arn:aws:iam::000000000000:user/runlane-local-runner-r-1' };

  it("let a site's worker invoke only its own site's worker routes", () => {
    expect(mayInvoke(worker, { group: 'worker', params: { site: 'lab' } })).toBe(true);
    expect(mayInvoke(worker, { group: 'worker', params: { site: 'other' } })).toBe(false);
    expect(mayInvoke(worker, { group: 'operator', params: {} })).toBe(false);
  });

  it('let the operator invoke every IAM route', () => {
    expect(mayInvoke(operator, { group: 'operator', params: {} })).toBe(true);
    expect(mayInvoke(operator, { group: 'worker', params: { site: 'lab' } })).toBe(true);
  });

  it('let a runner host (reporter policy: PutEvents only) invoke nothing', () => {
    expect(mayInvoke(runner, { group: 'operator', params: {} })).toBe(false);
    expect(mayInvoke(runner, { group: 'worker', params: { site: 'lab' } })).toBe(false);
  });
});
