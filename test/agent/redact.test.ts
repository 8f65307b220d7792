import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REDACTED, redactLines, redactSecrets } from '#agent/runner/redact.js';
import { runFixture } from './fixtures/runner-harness.js';

/** Issue 18: credential-looking strings never leave the host in evidence lines or script output. */
describe('redactSecrets', () => {
  const secret = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY'; // 40 characters, AWS's documented example

  it.each([
    ['access key id (long-term)', 'using key AKIAIOSFODNN7EXAMPLE now', 'using key [REDACTED] now'],
    ['access key id (temporary)', 'ASIAY34FZKBOKMUTVV7A', REDACTED],
    ['aws_secret_access_key =', `aws_secret_access_key = ${secret}`, `aws_secret_access_key = ${REDACTED}`],
    [
      'AWS_SECRET_ACCESS_KEY=',
      `export AWS_SECRET_ACCESS_KEY=${secret}`,
      `export AWS_SECRET_ACCESS_KEY=${REDACTED}`,
    ],
    [
      'JSON SecretAccessKey',
      `{"SecretAccessKey": "${secret}", "x": 1}`,
      `{"SecretAccessKey": "${REDACTED}", "x": 1}`,
    ],
    [
      'Authorization: Bearer',
      'Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.e30.sig',
      `Authorization: ${REDACTED}`,
    ],
    ['a bare bearer token', 'curl -H "x: Bearer abcdefgh12345678"', `curl -H "x: Bearer ${REDACTED}"`],
    [
      'SigV4 Authorization',
      'authorization: AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20260101/us-east-1/sqs/aws4_request',
      `authorization: ${REDACTED}`,
    ],
    [
      'x-amz-security-token header',
      'x-amz-security-token: IQoJb3JpZ2luX2VjEJr//////////wEaCXVz',
      `x-amz-security-token: ${REDACTED}`,
    ],
    [
      'X-Amz-Security-Token in a presigned URL',
      'GET /o?X-Amz-Security-Token=IQoJb3JpZ2lu%2Fabc&X-Amz-Expires=60',
      `GET /o?X-Amz-Security-Token=${REDACTED}&X-Amz-Expires=60`,
    ],
    [
      'password=',
      'psql postgres://db?user=app&password=hunter2&sslmode=require',
      `psql postgres://db?user=app&password=${REDACTED}&sslmode=require`,
    ],
    ['password: in YAML', 'password: "s3cr3t!"', `password: "${REDACTED}"`],
    [
      'a private key block',
      '-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----',
      REDACTED,
    ],
  ])('%s', (_name, input, expected) => {
    expect(redactSecrets(input)).toBe(expected);
  });

  it('leaves ordinary output alone (a git sha, tokens counts, key names without values)', () => {
    const lines = [
      'commit 4b825dc642cb6eb9a060e54bf8d69288fbee4904',
      'restartBudget.tokens: 5',
      'Error: ETIMEDOUT connecting to 10.0.0.5:5432',
      'the password is required',
      'working on step 3 of 5',
    ];
    expect(redactLines(lines)).toEqual(lines);
  });

  it('redacts every occurrence on a line', () => {
    expect(redactSecrets('AKIAIOSFODNN7EXAMPLE and AKIAI44QH8DHBEXAMPLE')).toBe(
      `${REDACTED} and ${REDACTED}`,
    );
  });
});

describe('stall evidence leaves the host redacted', () => {
  it('a stalled command that printed credentials: the event (file and bus) keeps the lines, not the secrets', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'redact-'));
    try {
      const run = await runFixture('runner-leaky.mjs', [], {
        timeouts: { idleMs: 300, hardMs: 10_000, killGraceMs: 100 },
        evidenceFile: join(dir, 'stall-events.jsonl'),
        thresholds: { maxEvidenceLines: 5 },
      });
      const event = run.report.event;
      expect(event?.rootCause).toBe('network');
      const written = await readFile(join(dir, 'stall-events.jsonl'), 'utf8');
      for (const text of [JSON.stringify(event), written]) {
        expect(text).toContain('ETIMEDOUT');
        expect(text).toContain(REDACTED);
        expect(text).not.toContain('hunter2');
        expect(text).not.toContain('IQoJb3JpZ2lu');
        expect(text).not.toContain('AKIAIOSFODNN7EXAMPLE');
        expect(text).not.toContain('eyJhbGciOiJIUzI1NiJ9');
      }
      // The command's own output is forwarded unchanged: only what leaves the host is redacted.
      expect(run.stdout.text()).toContain('AKIAIOSFODNN7EXAMPLE');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
