import { SignatureV4 } from '@smithy/signature-v4';
import { type ApiCredentials, NodeSha256 } from '#common/sigv4.js';
import { workerRoutePath } from '#contracts/api-routes.js';
import type { WorkerHeartbeatEvent, WorkerResultEnvelope } from '#contracts/worker-contract.js';
import { WorkerApiUnreachableError } from './errors.js';

/** An answer of the API: status and JSON body (undefined when it is not JSON). */
export interface ApiResponse {
  readonly status: number;
  readonly body: unknown;
}

export interface WorkerApiClientOptions {
  /** The control plane's base URL; paths are appended (`/api/workers/sites/<site>/…`). */
  readonly baseUrl: string;
  /** Region of the SigV4 signature (service `execute-api`). */
  readonly region: () => Promise<string>;
  /** The SDK's default credential chain (or fixed credentials in tests). */
  readonly credentials: () => Promise<ApiCredentials>;
  readonly timeoutMs: number;
  /** How a request is sent (start.ts passes httpPost of http-post.ts). @default globalThis.fetch */
  readonly fetch?: ApiFetch;
}

/** The part of fetch the client uses: one POST, its status and its body's text. */
export type ApiFetch = (
  url: URL,
  init: {
    readonly method: 'POST';
    readonly headers: Record<string, string>;
    readonly body: string;
    readonly signal: AbortSignal;
  },
) => Promise<{ readonly status: number; text(): Promise<string> }>;

/** `POST /api/workers/sites/{site}/tasks/{taskId}/claim`: what the worker does next. */
export type ClaimResult =
  /**
   * 200 `{ "claimed": true }`: execute it. `reclaimed`: this worker already held the claim (the
   * message came back): resend the result kept for it, never run the task again.
   */
  | {
      readonly outcome: 'claimed';
      readonly reclaimed?: true;
      /** The claimed task record's `message` (`task.message` of the answer), not yet validated: what the worker executes. */
      readonly task?: unknown;
    }
  /** 409 `already_claimed`: another worker has it. */
  | { readonly outcome: 'already_claimed'; readonly claimedBy?: string }
  /** 409 `stale_attempt`: the task was re-delegated; this message is an older attempt's. */
  | { readonly outcome: 'stale_attempt'; readonly message?: string }
  /** 403 `wrong_site` / 404 `task_not_found`: never executable here. */
  | { readonly outcome: 'wrong_site' | 'task_not_found'; readonly message?: string }
  /** No usable answer (network, timeout, 5xx, anything else): leave the message for a later receive. */
  | { readonly outcome: 'unavailable'; readonly reason: string };

/** `POST /api/workers/sites/{site}/results` (and heartbeats): acknowledged, refused for good, or not answered. */
export type SubmitResult =
  | { readonly outcome: 'acknowledged'; readonly duplicate: boolean }
  | {
      readonly outcome: 'refused';
      readonly status: number;
      readonly errorCode: string;
      readonly message?: string;
    }
  | { readonly outcome: 'failed'; readonly reason: string };

/** Status codes that say "not now", not "never": retried from the spool like a 5xx. */
const TRANSIENT_4XX = new Set([408, 425, 429]);

/**
 * The control plane's worker routes (`/api/workers/sites/<site>/…`, the site of the body) over
 * HTTPS, SigV4-signed (service `execute-api`) with the SDK's default credentials: the host's
 * role of its site (`runlane-<env>-worker-<site>`, session name = its worker id), whose proven
 * ARN the API compares with the body's `worker_id` and `site`. Each request with a timeout.
 * Never throws on an answer: the status decides the result.
 *
 * @example
 * const api = new WorkerApiClient({ baseUrl, region: sqs.config.region, credentials: () => sqs.config.credentials(), timeoutMs: 5_000 });
 * const claim = await api.claim(taskId, { worker_id: 'web-1', site: 'lab', attempt: 1 });
 */
export class WorkerApiClient {
  private signer: SignatureV4 | undefined;
  private readonly fetch: ApiFetch;

  public constructor(private readonly options: WorkerApiClientOptions) {
    this.fetch = options.fetch ?? globalThis.fetch;
  }

  public async claim(
    taskId: string,
    body: { readonly worker_id: string; readonly site: string; readonly attempt: number },
  ): Promise<ClaimResult> {
    let response: ApiResponse;
    try {
      response = await this.post(workerRoutePath('claimWorkerTask', body.site, taskId), body);
    } catch (error) {
      return { outcome: 'unavailable', reason: describe(error) };
    }
    const code = errorCode(response.body);
    const answer = response.body as
      | { claimed?: unknown; reclaimed?: unknown; task?: { message?: unknown } | null }
      | undefined;
    if (response.status === 200 && answer?.claimed === true) {
      const task = answer.task?.message;
      return {
        outcome: 'claimed',
        ...(answer.reclaimed === true ? { reclaimed: true as const } : {}),
        ...(task === undefined ? {} : { task }),
      };
    }
    if (response.status === 409 && code === 'already_claimed') {
      const body = response.body as { claimedBy?: unknown; claimed_by?: unknown };
      const claimedBy = body.claimedBy ?? body.claimed_by;
      return { outcome: 'already_claimed', ...(typeof claimedBy === 'string' ? { claimedBy } : {}) };
    }
    if (response.status === 409 && code === 'stale_attempt') {
      return { outcome: 'stale_attempt', message: message(response.body) };
    }
    // Only the control plane's own answers count: a gateway's 403/404 (bad signature, no route) is not final,
    // nor is 403 wrong_worker (the task is for another worker of this site: leave it to that one), nor a
    // 403 about the host's own identity (worker_mismatch, wrong_site at path.site).
    if (response.status === 403 && code === 'wrong_site' && !identityRefusal(response))
      return { outcome: 'wrong_site', message: message(response.body) };
    if (response.status === 404 && code === 'task_not_found') {
      return { outcome: 'task_not_found', message: message(response.body) };
    }
    return {
      outcome: 'unavailable',
      reason: `HTTP ${response.status}${code === undefined ? '' : ` ${code}`}`,
    };
  }

  /**
   * A result envelope; 2xx acknowledged, 4xx refused (except 408/425/429, a gateway's 401/403 and
   * a 403 saying the host's credentials are not its config's identity), else failed.
   */
  public async submitResult(envelope: WorkerResultEnvelope): Promise<SubmitResult> {
    return this.submit(workerRoutePath('postWorkerResult', envelope.site), envelope);
  }

  /** A registration or heartbeat; same outcomes as {@link submitResult}. */
  public async sendHeartbeat(event: WorkerHeartbeatEvent): Promise<SubmitResult> {
    return this.submit(workerRoutePath('postWorkerHeartbeat', event.site), event);
  }

  private async submit(path: string, body: unknown): Promise<SubmitResult> {
    let response: ApiResponse;
    try {
      response = await this.post(path, body);
    } catch (error) {
      return { outcome: 'failed', reason: describe(error) };
    }
    if (response.status >= 200 && response.status < 300) {
      return {
        outcome: 'acknowledged',
        duplicate: (response.body as { duplicate?: unknown } | undefined)?.duplicate === true,
      };
    }
    const code = errorCode(response.body);
    const gatewayAuth = (response.status === 401 || response.status === 403) && code === undefined;
    if (
      response.status >= 400 &&
      response.status < 500 &&
      !TRANSIENT_4XX.has(response.status) &&
      !gatewayAuth &&
      !identityRefusal(response)
    ) {
      return {
        outcome: 'refused',
        status: response.status,
        errorCode: code ?? `http_${response.status}`,
        ...(message(response.body) === undefined ? {} : { message: message(response.body) }),
      };
    }
    return { outcome: 'failed', reason: `HTTP ${response.status}${code === undefined ? '' : ` ${code}`}` };
  }

  /**
   * One signed JSON POST. Rejects with {@link WorkerApiUnreachableError} when there is no answer
   * (network, timeout, no credentials); resolves with any status otherwise.
   */
  public async post(path: string, body: unknown): Promise<ApiResponse> {
    const url = new URL(`${this.options.baseUrl}${path}`);
    const text = JSON.stringify(body);
    let headers: Record<string, string>;
    try {
      const signed = await (await this.getSigner()).sign({
        method: 'POST',
        protocol: url.protocol,
        hostname: url.hostname,
        ...(url.port === '' ? {} : { port: Number(url.port) }),
        path: url.pathname,
        query: Object.fromEntries(url.searchParams),
        headers: { host: url.host, 'content-type': 'application/json' },
        body: text,
      });
      headers = signed.headers;
    } catch (error) {
      throw new WorkerApiUnreachableError(url.href, `cannot sign the request: ${describe(error)}`, {
        cause: error,
      });
    }
    let response: Awaited<ReturnType<ApiFetch>>;
    let raw: string;
    try {
      response = await this.fetch(url, {
        method: 'POST',
        headers,
        body: text,
        signal: AbortSignal.timeout(this.options.timeoutMs),
      });
      raw = await response.text();
    } catch (error) {
      throw new WorkerApiUnreachableError(url.href, describe(error), { cause: error });
    }
    let parsed: unknown;
    try {
      parsed = raw === '' ? undefined : JSON.parse(raw);
    } catch {
      parsed = undefined;
    }
    return { status: response.status, body: parsed };
  }

  private async getSigner(): Promise<SignatureV4> {
    this.signer ??= new SignatureV4({
      service: 'execute-api',
      region: await this.options.region(),
      credentials: () => this.options.credentials(),
      sha256: NodeSha256,
    });
    return this.signer;
  }
}

/**
 * 403 because this host's credentials are not the identity it posts as (`worker_mismatch`: the
 * signed session name is not `worker_id`; `wrong_site` at `path.site`: the role is another site's).
 * The host's setup is wrong, not the task or the result: never final, retried once it is fixed.
 */
function identityRefusal(response: ApiResponse): boolean {
  if (response.status !== 403) return false;
  const code = errorCode(response.body);
  const fieldPath = (response.body as { fieldPath?: unknown } | undefined)?.fieldPath;
  return code === 'worker_mismatch' || (code === 'wrong_site' && fieldPath === 'path.site');
}

function errorCode(body: unknown): string | undefined {
  const code = (body as { error?: unknown } | undefined)?.error;
  return typeof code === 'string' && code !== '' ? code : undefined;
}

function message(body: unknown): string | undefined {
  const text = (body as { message?: unknown } | undefined)?.message;
  return typeof text === 'string' ? text : undefined;
}

function describe(error: unknown): string {
  if (error instanceof WorkerApiUnreachableError) return error.message;
  if (error instanceof Error) {
    const cause = error.cause as NodeJS.ErrnoException | undefined;
    const code = cause?.code ?? (error as NodeJS.ErrnoException).code;
    return [error.name, code, error.message].filter((part) => part !== undefined && part !== '').join(': ');
  }
  return String(error);
}
