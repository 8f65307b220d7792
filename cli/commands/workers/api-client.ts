import { SignatureV4 } from '@smithy/signature-v4';
import { NodeSha256 } from '#common/sigv4.js';
import { loadRunlaneConfig } from '#lib/config/cdk-json.js';
import type { EnvironmentName } from '#lib/config/environment-config.js';
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

/** The control plane's `/api/workers/*`: the local stack's, or a deployed one's through SigV4. */
export interface WorkerApiTarget {
  readonly description: string;
  readonly apiUrl: string;
  request(method: 'GET' | 'PUT', path: string, body?: unknown): Promise<WorkerApiAnswer>;
}

const REQUEST_TIMEOUT_MS = 15_000;

interface OutgoingRequest {
  readonly url: string;
  readonly method: string;
  readonly headers: Record<string, string>;
  readonly body: string | undefined;
}

/** The headers a request goes with: as they are (local stack), or signed. */
type HeadersFor = (request: OutgoingRequest) => Promise<Record<string, string>>;

/**
 * `env`: the `ApiUrl` output of stack `Runlane-<env>`, requests signed as the worker agent signs
 * them (SigV4, service `execute-api`). Otherwise the local stack at `apiUrl` (IAM is not emulated
 * there, so requests go unsigned).
 *
 * @example
 * const api = await resolveWorkerApi({ apiUrl: 'http://127.0.0.1:3000' });
 * const { status, body } = await api.request('GET', '/api/workers/health');
 */
export async function resolveWorkerApi(options: {
  readonly apiUrl: string;
  readonly env?: EnvironmentName | undefined;
}): Promise<WorkerApiTarget> {
  if (options.env === undefined) {
    const apiUrl = options.apiUrl.replace(/\/+$/, '');
    const unreachable = `no local stack answers at ${apiUrl}; start one with npm start, or pass --env <env>`;
    return {
      description: `local stack ${apiUrl}`,
      apiUrl,
      request: (method, path, body) =>
        send(apiUrl, method, path, body, async (request) => request.headers, unreachable),
    };
  }
  return deployedWorkerApi(options.env);
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
  const signer = new SignatureV4({
    service: 'execute-api',
    region,
    credentials: () => stack.cloudFormation.config.credentials(),
    sha256: NodeSha256,
  });
  const signed: HeadersFor = async (request) => {
    const url = new URL(request.url);
    const { headers } = await signer.sign({
      method: request.method,
      protocol: url.protocol,
      hostname: url.hostname,
      ...(url.port === '' ? {} : { port: Number(url.port) }),
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers: { host: url.host, ...request.headers },
      ...(request.body === undefined ? {} : { body: request.body }),
    });
    return headers;
  };
  const unreachable = `the API of ${stackName} (${base}) did not answer`;
  return {
    description: `${stackName} (${region})`,
    apiUrl: base,
    request: (method, path, body) => send(base, method, path, body, signed, unreachable),
  };
}

async function send(
  base: string,
  method: 'GET' | 'PUT',
  path: string,
  body: unknown,
  headersFor: HeadersFor,
  unreachable: string,
): Promise<WorkerApiAnswer> {
  const url = `${base}${path}`;
  const text = body === undefined ? undefined : JSON.stringify(body);
  const headers: Record<string, string> = text === undefined ? {} : { 'content-type': 'application/json' };
  let response: Response;
  let raw: string;
  try {
    const signed = await headersFor({ url, method, headers, body: text });
    response = await fetch(url, {
      method,
      headers: signed,
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
