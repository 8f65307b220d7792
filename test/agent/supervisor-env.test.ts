import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { child, cleanupHarnesses, harness, record } from './fixtures/supervisor-harness.js';

/**
 * Issue 18: a supervised child gets an explicit environment (the config's `inheritEnv`, its own
 * `env`, AWS credentials only with `inheritAwsCredentials`), and what it prints on the way out
 * leaves the host redacted.
 */

const PLANTED = {
  AWS_ACCESS_KEY_ID: 'AKIAIOSFODNN7EXAMPLE',
  AWS_REGION: 'eu-west-1',
  RUNLANE_TEST_DATABASE_URL: 'postgres://user:pw@db/app',
} as const;
let saved: Record<string, string | undefined>;
beforeEach(() => {
  saved = Object.fromEntries(Object.keys(PLANTED).map((name) => [name, process.env[name]]));
  Object.assign(process.env, PLANTED);
});
afterEach(async () => {
  await cleanupHarnesses();
  for (const [name, value] of Object.entries(saved)) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
});

const printEnv = (name: string, extra: Record<string, unknown> = {}) => ({
  name,
  command: '/bin/sh',
  args: ['-c', 'env | sort'],
  restart: 'temporary',
  ...extra,
});

describe('supervised children: explicit environment', () => {
  it('only inheritEnv and the child’s env by default; AWS credentials only where inheritAwsCredentials', async () => {
    const h = await harness(
      [printEnv('plain', { env: { RELAY_LOG: 'info' } }), printEnv('aws', { inheritAwsCredentials: true })],
      { inheritEnv: ['PATH', 'HOME'] },
    );
    await h.supervisor.start();
    await expect
      .poll(() => [record(h, 'plain')?.state, record(h, 'aws')?.state])
      .toEqual(['exited', 'exited']);
    const plain = h.output.get('plain') ?? '';
    expect(plain).toContain('RELAY_LOG=info\n');
    expect(plain).toMatch(/^PATH=/m);
    expect(plain).not.toContain('AWS_');
    expect(plain).not.toContain('RUNLANE_TEST_DATABASE_URL');
    const aws = h.output.get('aws') ?? '';
    expect(aws).toContain('AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE\n');
    expect(aws).toContain('AWS_REGION=eu-west-1\n');
    expect(aws).not.toContain('RUNLANE_TEST_DATABASE_URL');
  });

  it("a failed child's exit reason (its last stderr line) is redacted in the event that leaves the host", async () => {
    const h = await harness([
      child('leaky', ['fail', '1', 'login failed password=hunter2'], { restart: 'temporary' }),
    ]);
    await h.supervisor.start();
    await expect.poll(() => h.reporter.childEvents('leaky').map((e) => e.event)).toContain('exited');
    const exited = h.reporter.childEvents('leaky').find((e) => e.event === 'exited');
    expect(exited?.exit).toMatchObject({ kind: 'Failed', reason: 'login failed password=[REDACTED]' });
  });
});
