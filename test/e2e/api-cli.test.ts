import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { workerRoutePath } from '#contracts/api-routes.js';
import { connectLocalApi, type LocalApi } from '#local/demo/local-api.js';
import type { LocalStack } from '#local/stack/start-local-stack.js';
import { runCli, runRunlaneBin, startQuietLocalStack } from '../support/local-cli.js';
import { aHeartbeat } from '../support/worker-fixtures.js';

/**
 * `runlane api` and `runlane workers credentials` against the local stack, which checks tokens
 * and SigV4 as API Gateway does: the CLI signs as the local operator by itself, `--household`
 * sends a local token, and what the API refuses comes back with exit 3 and the answer printed.
 */
describe('runlane api against the local stack', () => {
  let stack: LocalStack;
  let api: LocalApi;
  const runlane = (...args: string[]) => runCli(stack, args);

  beforeAll(async () => {
    stack = await startQuietLocalStack({ maxReceiveCount: 3 });
    api = await connectLocalApi(stack.info.apiUrl, stack.info);
  }, 90_000);
  afterAll(async () => {
    await stack?.stop();
  });

  it('reads operator routes signed with the local operator credentials (an unsigned request is 403)', async () => {
    const queue = await runlane('api', 'GET', '/api/v1/review-queue?limit=5');
    expect(queue.status, queue.stderr).toBe(0);
    expect(JSON.parse(queue.stdout)).toMatchObject({ runs: expect.any(Array) });
    expect((await api.anonymous('GET', '/api/v1/review-queue?limit=5')).status).toBe(403);

    const unknown = await runlane('api', 'get', `/api/v1/runs/${randomUUID()}`, '--json');
    expect(unknown.status).toBe(3);
    expect(JSON.parse(unknown.stdout)).toMatchObject({ status: 404, body: { error: 'run_not_found' } });
    expect(unknown.stderr).toMatch(
      /runlane api: GET \/api\/v1\/runs\/\S+ on local stack \S+ answered HTTP 404 run_not_found/,
    );
  }, 60_000);

  it('posts as a household user with --household (a local token), and the operator reads the run', async () => {
    const posted = await runlane(
      'api',
      'POST',
      '/api/v1/agent/conversations/c-api-cli/messages',
      '--household',
      'hh-api-cli',
      '--data',
      '{"text":"remind me to water the plants"}',
      '--idempotency-key',
      `api-cli-${randomUUID()}`,
    );
    expect(posted.status, posted.stderr).toBe(0);
    const { commandId } = JSON.parse(posted.stdout) as { commandId: string };
    // The run exists once its lane worker took the command.
    await expect
      .poll(async () => (await api.operator('GET', `/api/v1/runs/${commandId}`)).status, { timeout: 20_000 })
      .toBe(200);
    const run = await runlane('api', 'GET', `/api/v1/runs/${commandId}`);
    expect(run.status, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ runId: commandId });
    // Operator credentials are not a household user's token: the household route refuses them.
    const asOperator = await runlane(
      'api',
      'POST',
      '/api/v1/agent/conversations/c-api-cli/messages',
      '--data',
      '{"text":"hello"}',
    );
    expect(asOperator.status).toBe(3);
    expect(asOperator.stderr).toContain('HTTP 401');
  }, 60_000);

  it('a member deciding an approval: exit 3 with 403 approver_role_required', async () => {
    const decided = await runlane(
      'api',
      'POST',
      `/api/v1/agent/conversations/c-api-cli/approvals/apr-${randomUUID()}`,
      '--household',
      'hh-api-cli',
      '--data',
      '{"decision":"approve"}',
    );
    expect(decided.status).toBe(3);
    expect(decided.stderr).toContain('HTTP 403 approver_role_required');
  }, 60_000);

  it('refuses --data on a GET and --household with --env (usage, exit 2); no stack is exit 1', async () => {
    expect((await runlane('api', 'GET', '/api/v1/runs', '--data', '{}')).status).toBe(2);
    expect((await runlane('api', 'GET', '/api/v1/runs', '--household', 'h', '--env', 'dev')).status).toBe(2);
    const none = await runRunlaneBin([
      'api',
      'GET',
      '/api/v1/review-queue',
      '--api-url',
      'http://127.0.0.1:9',
    ]);
    expect(none.status).toBe(1);
    expect(none.stderr).toContain('no local stack answers at http://127.0.0.1:9');
  }, 60_000);

  it("workers credentials: the worker's own credentials, accepted for its site's routes only", async () => {
    const printed = await runlane(
      'workers',
      'credentials',
      '--site',
      'lab',
      '--worker-id',
      'lab-cli',
      '--json',
    );
    expect(printed.status, printed.stderr).toBe(0);
    const credentials = JSON.parse(printed.stdout) as { accessKeyId: string; arn: string };
    expect(credentials.arn).toBe('arn:aws:sts::000000000000:assumed-role/runlane-local-worker-lab/lab-cli');
    const exports = await runlane('workers', 'credentials', '--site', 'lab', '--worker-id', 'lab-cli');
    expect(exports.stdout).toContain(`export AWS_ACCESS_KEY_ID='${credentials.accessKeyId}'`);

    const worker = api.worker('lab', 'lab-cli');
    const beat = aHeartbeat({
      environment: 'local',
      worker_id: 'lab-cli',
      site: 'lab',
      ts: new Date().toISOString(),
    });
    expect((await worker('POST', workerRoutePath('postWorkerHeartbeat', 'lab'), beat)).status).toBe(202);
    // Not an operator: the worker admin routes refuse it.
    expect((await worker('GET', '/api/workers/health')).status).toBe(403);
  }, 60_000);
});
