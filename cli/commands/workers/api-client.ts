import { loadRunlaneConfig } from '#lib/config/cdk-json.js';
import type { EnvironmentName } from '#lib/config/environment-config.js';
import { issueLocalToken, localCredentials } from '#local/auth/local-auth.js';
import { apiSigner, type OutgoingRequest, readLocalAuthInfo, signedHeaders } from '#local/demo/local-api.js';
import { type DeployedStack, describeDeployedStack } from '../../targets.js';

/** The control plane's API could not be asked, or answered with an error. */
export class WorkerApiRequestError extends Error {
  public constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'WorkerApiRequestError';
  }
}

/** An answer of the API: status and parsed JSON body. */
export interface WorkerApiAnswer {
  readonly status: number;
  readonly body: unknown;
}

/** The control plane's API: the local stack's or a deployed one's, every request SigV4-signed. */
export interface WorkerApiTarget {
  readonly description: string;
  readonly apiUrl: string;
  /** `body`: JSON-encoded. `headers`: sent (and signed) along. */
  request(
    method: string,
    path: string,
    body?: unknown,
    headers?: Readonly<Record<string, string>>,
  ): Promise<WorkerApiAnswer>;
}

const REQUEST_TIMEOUT_MS = 15_000;

/** The headers a request goes with, signed. */
type HeadersFor = (request: OutgoingRequest) => Promise<Record<string, string>>;

/**
 * `env`: the `ApiUrl` output of stack `Runlane-<env>`, requests SigV4-signed (service
 * `execute-api`) with the SDK's default credentials, as IAM routes want them. Otherwise the
 * local stack at `apiUrl`, requests signed with the local operator credentials from the stack's
 * auth folder (`authDir` in `/_local/info`): the local gateway checks SigV4 as API Gateway does.
 *
 * @example
 * const api = await resolveWorkerApi({ apiUrl: 'http://127.0.0.1:3000' });
 * const { status, body } = await api.request('GET', '/api/workers/health');
 */
export async function resolveWorkerApi(options: {
  readonly apiUrl: string;
  readonly env?: EnvironmentName | undefined;
  /** Local stack only: requests as a user of this household, with a token of the local issuer. */
  readonly household?: { readonly householdId: string; readonly role: 'member' | 'approver' } | undefined;
}): Promise<WorkerApiTarget> {
  if (options.env === undefined) return localApi(options.apiUrl, options.household);
  return deployedWorkerApi(options.env);
}

/** The local stack's API, signed as the local operator (or with a household user's token). */
async function localApi(
  apiUrl: string,
  household: { readonly householdId: string; readonly role: 'member' | 'approver' } | undefined,
): Promise<WorkerApiTarget> {
  const base = apiUrl.replace(/\/+$/, '');
  const unreachable = `no local stack answers at ${base}; start one with npm start, or pass --env <env>`;
  let auth: Awaited<ReturnType<typeof readLocalAuthInfo>>;
  try {
    auth = await readLocalAuthInfo(base);
  } catch (error) {
    throw new WorkerApiRequestError(
      /no local stack answers/.test(describeError(error)) ? unreachable : describeError(error),
      { cause: error },
    );
  }
  const signer = apiSigner(auth.region, () => localCredentials(auth.authDir, { kind: 'operator' }));
  const headersFor: HeadersFor =
    household === undefined
      ? (request) => signedHeaders(signer, request)
      : async (request) => ({
          ...request.headers,
          authorization: `Bearer ${await issueLocalToken(auth.authDir, household)}`,
        });
  return {
    description: `local stack ${base}`,
    apiUrl: base,
    request: (method, path, body, headers) =>
      send(base, method, path, body, headers, headersFor, unreachable),
  };
}

/** The API of stack `Runlane-<env>`, every request SigV4-signed with the SDK's default credentials. */
async function deployedWorkerApi(env: EnvironmentName): Promise<WorkerApiTarget> {
  const region = loadRunlaneConfig().environments[env].region;
  const stackName = `Runlane-${env}`;
  let stack: DeployedStack;
  try {
    stack = await describeDeployedStack(env);
  } catch (error) {
    throw new WorkerApiRequestError(`cannot read stack ${stackName} in ${region}: ${describeError(error)}`, {
      cause: error,
    });
  }
  const apiUrl = stack.outputs.get('ApiUrl');
  if (!apiUrl) throw new WorkerApiRequestError(`stack ${stackName} has no ApiUrl output (is it deployed?)`);
  const base = apiUrl.replace(/\/+$/, '');
  const signer = apiSigner(region, () => stack.cloudFormation.config.credentials());
  const unreachable = `the API of ${stackName} (${base}) did not answer`;
  return {
    description: `${stackName} (${region})`,
    apiUrl: base,
    request: (method, path, body, headers) =>
      send(base, method, path, body, headers, (request) => signedHeaders(signer, request), unreachable),
  };
}

async function send(
  base: string,
  method: string,
  path: string,
  body: unknown,
  extraHeaders: Readonly<Record<string, string>> | undefined,
  headersFor: HeadersFor,
  unreachable: string,
): Promise<WorkerApiAnswer> {
  const url = `${base}${path}`;
  const text = body === undefined ? undefined : JSON.stringify(body);
  const headers: Record<string, string> = {
    ...(text === undefined ? {} : { 'content-type': 'application/json' }),
    ...extraHeaders,
  };
  let signed: Record<string, string>;
  try {
    signed = await headersFor({ url, method, headers, body: text });
  } catch (error) {
    throw new WorkerApiRequestError(`cannot sign the request to ${base}: ${describeError(error)}`, {
      cause: error,
    });
  }
  let response: Response;
  let raw: string;
  try {
    response = await fetch(url, {
      method,
      // fetch sets `host` itself (the value signed).
      headers: Object.fromEntries(Object.entries(signed).filter(([name]) => name !== 'host')),
      ...(text === undefined ? {} : { body: text }),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    raw = await response.text();
  } catch (error) {
    throw new WorkerApiRequestError(`${unreachable} (${describeError(error)})`, { cause: error });
  }
  let parsed: unknown;
  try {
    parsed = raw === '' ? undefined : JSON.parse(raw);
  } catch {
    parsed = raw;
  }
  return { status: response.status, body: parsed };
}

/** An error's message, with the system error code under it (`fetch failed: ECONNREFUSED`). */
export function describeError(error: unknown): string {
  if (error instanceof Error) {
    const code = (error.cause as NodeJS.ErrnoException | undefined)?.code;
    return code ? `${error.message}: ${code}` : error.message;
  }
  return String(error);
}

/** "HTTP 500 internal_error: …" from an error answer. */
export function describeAnswer(answer: WorkerApiAnswer): string {
  const body = answer.body as { error?: unknown; message?: unknown; fieldPath?: unknown } | undefined;
  const parts = [`HTTP ${answer.status}`];
  if (typeof body?.error === 'string') parts.push(body.error);
  if (typeof body?.fieldPath === 'string') parts.push(`at ${body.fieldPath}`);
  const head = parts.join(' ');
  return typeof body?.message === 'string' ? `${head}: ${body.message}` : head;
}

/** Fails with the answer unless it has the expected status. */
export function expectStatus(
  api: WorkerApiTarget,
  answer: WorkerApiAnswer,
  path: string,
  status: number,
): void {
  if (answer.status !== status) {
    throw new WorkerApiRequestError(`${path} on ${api.description} answered ${describeAnswer(answer)}`);
  }
}
