import type { EnvironmentName } from '#lib/config/environment-config.js';
import { UsageError } from '../errors.js';
import { EXIT_HTTP_ERROR } from '../exit-codes.js';
import { describeAnswer, resolveWorkerApi, WorkerApiRequestError } from './workers/api-client.js';

/** The options of `runlane api` (cli/definitions/api.ts). */
export interface ApiOptions {
  readonly apiUrl: string;
  readonly env?: EnvironmentName | undefined;
  readonly data?: unknown;
  readonly idempotencyKey?: string | undefined;
  readonly household?: string | undefined;
  readonly role: 'member' | 'approver';
  readonly json?: boolean | undefined;
}

/**
 * `runlane api <method> <path>`: one request to the command API, SigV4-signed as an operator
 * (the local stack's operator credentials, or the SDK's with --env) or with a household token
 * (--household, local stack); the answer body on stdout. Exit 0 for 2xx, 3 for 4xx/5xx, 1 when
 * there is no answer.
 *
 * @example
 * process.exitCode = await runApi('GET', `/api/v1/runs/${runId}`, { apiUrl: 'http://127.0.0.1:3000', role: 'member' });
 */
export async function runApi(method: string, path: string, options: ApiOptions): Promise<number> {
  if (options.household !== undefined && options.env !== undefined) {
    throw new UsageError(
      "--household issues a token of the local stack's issuer; a deployed environment's household " +
        "routes take its issuer's tokens (curl with -H 'authorization: Bearer <token>')",
    );
  }
  if (options.data !== undefined && method === 'GET') throw new UsageError('--data goes with POST or PUT');
  try {
    const api = await resolveWorkerApi({
      apiUrl: options.apiUrl,
      env: options.env,
      household:
        options.household === undefined ? undefined : { householdId: options.household, role: options.role },
    });
    const answer = await api.request(
      method,
      path,
      options.data,
      options.idempotencyKey === undefined ? {} : { 'idempotency-key': options.idempotencyKey },
    );
    const ok = answer.status >= 200 && answer.status < 300;
    if (options.json) {
      console.log(JSON.stringify({ status: answer.status, body: answer.body ?? null }, null, 2));
    } else if (answer.body !== undefined) {
      console.log(typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body, null, 2));
    }
    if (!ok) {
      console.error(
        `runlane api: ${method} ${path} on ${api.description} answered ${describeAnswer(answer)}`,
      );
    }
    return ok ? 0 : EXIT_HTTP_ERROR;
  } catch (error) {
    if (!(error instanceof WorkerApiRequestError)) throw error;
    console.error(`runlane api: ${error.message}`);
    return 1;
  }
}
