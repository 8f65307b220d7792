/**
 * The local stack's API as its callers reach it (DESIGN §7): household users with a token of the
 * local issuer (`issueLocalToken`), operators with SigV4 signed by the local operator credentials
 * (`localCredentials`), both from the stack's auth folder (`authDir` in `/_local/info`). Used by
 * the demo, the soak driver, the benchmark and the tests; the `runlane` CLI signs the same way.
 */
import { SignatureV4 } from '@smithy/signature-v4';
import { type ApiCredentials, NodeSha256 } from '#common/sigv4.js';
import type { HouseholdRole } from '#contracts/identity.js';
import { issueLocalToken, localCredentials } from '../auth/local-auth.js';

/** An answer: status, the body parsed as JSON (the text when it is not JSON, undefined when empty). */
export interface LocalApiAnswer {
  readonly status: number;
  readonly body: unknown;
  readonly headers: Headers;
}

/** `body`: JSON-encoded unless it is a string (sent as it is, e.g. broken JSON on purpose). */
export type LocalApiCall = (
  method: string,
  path: string,
  body?: unknown,
  headers?: Readonly<Record<string, string>>,
) => Promise<LocalApiAnswer>;

export interface LocalApi {
  readonly apiUrl: string;
  readonly authDir: string;
  /** A request as an operator: SigV4 (service `execute-api`) with the local operator credentials. */
  readonly operator: LocalApiCall;
  /** A request as a user of `householdId` (`member` unless said): `Authorization: Bearer <token>`. */
  household(householdId: string, role?: HouseholdRole): LocalApiCall;
  /** A request as a worker host of `site` named `workerId`: signed with that worker's local credentials. */
  worker(site: string, workerId: string): LocalApiCall;
  /** A request without credentials (what a stranger gets: 401/403). */
  readonly anonymous: LocalApiCall;
  /** The token `household(householdId, role)` sends (issued once, renewed before it expires). */
  token(householdId: string, role?: HouseholdRole): Promise<string>;
}

/** What `/_local/info` tells about the auth folder. */
export interface LocalAuthInfo {
  readonly apiUrl: string;
  readonly region: string;
  readonly authDir: string;
}

const TOKEN_TTL_SECONDS = 3_600;
/** Tokens are reissued once this old, well before they expire (a soak runs for hours). */
const TOKEN_RENEW_MS = 30 * 60_000;

/**
 * The API of the local stack at `apiUrl`. `auth` skips the `/_local/info` request when the caller
 * already has the stack's info; `timeoutMs` bounds each request (none by default).
 *
 * @example
 * const api = await connectLocalApi('http://127.0.0.1:3000');
 * const posted = await api.household('h1')('POST', '/api/v1/agent/conversations/c1/messages', { text: 'hi' });
 * const run = await api.operator('GET', `/api/v1/runs/${posted.body.commandId}`);
 */
export async function connectLocalApi(
  apiUrl: string,
  auth?: LocalAuthInfo,
  settings: { readonly timeoutMs?: number } = {},
): Promise<LocalApi> {
  const base = apiUrl.replace(/\/+$/, '');
  const send = (
    method: string,
    path: string,
    body: unknown,
    headers: Readonly<Record<string, string>>,
    headersFor: (request: OutgoingRequest) => Promise<Record<string, string>>,
  ) => sendRequest(base, method, path, body, headers, headersFor, settings.timeoutMs);
  const { authDir, region } = auth ?? (await readLocalAuthInfo(base));
  const tokens = new Map<string, { token: Promise<string>; issuedAt: number }>();
  const token = (householdId: string, role: HouseholdRole = 'member'): Promise<string> => {
    const key = `${role}\u0000${householdId}`;
    const cached = tokens.get(key);
    if (cached && Date.now() - cached.issuedAt < TOKEN_RENEW_MS) return cached.token;
    const issued = issueLocalToken(authDir, { householdId, role, ttlSeconds: TOKEN_TTL_SECONDS });
    tokens.set(key, { token: issued, issuedAt: Date.now() });
    issued.catch(() => tokens.delete(key));
    return issued;
  };
  const signers = new Map<string, SignatureV4>();
  const signerFor = (name: string, credentials: () => Promise<ApiCredentials>): SignatureV4 => {
    let signer = signers.get(name);
    if (!signer) {
      signer = apiSigner(region, credentials);
      signers.set(name, signer);
    }
    return signer;
  };
  const signed =
    (name: string, credentials: () => Promise<ApiCredentials>): LocalApiCall =>
    (method, path, body, headers = {}) =>
      send(method, path, body, headers, (request) => signedHeaders(signerFor(name, credentials), request));
  const operatorCredentials = once(() => localCredentials(authDir, { kind: 'operator' }));
  return {
    apiUrl: base,
    authDir,
    operator: signed('operator', operatorCredentials),
    household:
      (householdId, role = 'member') =>
      (method, path, body, headers = {}) =>
        send(method, path, body, headers, async (request) => ({
          ...request.headers,
          authorization: `Bearer ${await token(householdId, role)}`,
        })),
    worker: (site, workerId) =>
      signed(
        `worker\u0000${site}\u0000${workerId}`,
        once(() => localCredentials(authDir, { kind: 'worker', site, workerId })),
      ),
    anonymous: (method, path, body, headers = {}) =>
      send(method, path, body, headers, async (request) => request.headers),
    token,
  };
}

/** `apiUrl`, `region` and `authDir` from the stack's `/_local/info`. */
export async function readLocalAuthInfo(apiUrl: string): Promise<LocalAuthInfo> {
  const base = apiUrl.replace(/\/+$/, '');
  const response = await fetch(`${base}/_local/info`).catch(() => undefined);
  if (!response?.ok) throw new Error(`no local stack answers at ${base}; start one with npm start`);
  const info = (await response.json()) as { region?: unknown; authDir?: unknown };
  if (typeof info.authDir !== 'string' || info.authDir === '') {
    throw new Error(`the local stack at ${base} names no authDir in /_local/info (an older version?)`);
  }
  return {
    apiUrl: base,
    region: typeof info.region === 'string' ? info.region : 'us-east-1',
    authDir: info.authDir,
  };
}

/** A request about to be sent: what SigV4 covers. */
export interface OutgoingRequest {
  readonly url: string;
  readonly method: string;
  readonly headers: Record<string, string>;
  readonly body: string | undefined;
}

/** A SigV4 signer for API Gateway (service `execute-api`). */
export function apiSigner(region: string, credentials: () => Promise<ApiCredentials>): SignatureV4 {
  return new SignatureV4({ service: 'execute-api', region, credentials, sha256: NodeSha256 });
}

/** The request's headers with `host`, `x-amz-date` and `authorization` (and a session token) added. */
export async function signedHeaders(
  signer: SignatureV4,
  request: OutgoingRequest,
): Promise<Record<string, string>> {
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
}

async function sendRequest(
  base: string,
  method: string,
  path: string,
  body: unknown,
  extraHeaders: Readonly<Record<string, string>>,
  headersFor: (request: OutgoingRequest) => Promise<Record<string, string>>,
  timeoutMs: number | undefined,
): Promise<LocalApiAnswer> {
  const url = `${base}${path}`;
  const text = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
  const headers: Record<string, string> = {
    ...(text === undefined ? {} : { 'content-type': 'application/json' }),
    ...extraHeaders,
  };
  const finalHeaders = await headersFor({ url, method, headers, body: text });
  const response = await fetch(url, {
    method,
    // fetch sets `host` itself (the value signed).
    headers: Object.fromEntries(Object.entries(finalHeaders).filter(([name]) => name !== 'host')),
    ...(text === undefined ? {} : { body: text }),
    ...(timeoutMs === undefined ? {} : { signal: AbortSignal.timeout(timeoutMs) }),
  });
  const raw = await response.text();
  let parsed: unknown;
  try {
    parsed = raw === '' ? undefined : JSON.parse(raw);
  } catch {
    parsed = raw;
  }
  return { status: response.status, body: parsed, headers: response.headers };
}

function once<T>(load: () => Promise<T>): () => Promise<T> {
  let value: Promise<T> | undefined;
  return () => {
    value ??= load().catch((error: unknown) => {
      value = undefined;
      throw error;
    });
    return value;
  };
}
