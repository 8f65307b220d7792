import type { ApiCredentials } from '#common/sigv4.js';
import { apiSigner, signedHeaders } from '#local/demo/local-api.js';

/** How a test request proves who it is: nothing, a bearer JWT, or SigV4 with IAM credentials. */
export type TestCredentials =
  | { readonly kind: 'none' }
  | { readonly kind: 'bearer'; readonly token: string }
  | { readonly kind: 'sigv4'; readonly credentials: ApiCredentials };

export interface TestApiRequest {
  readonly method: string;
  /** Path with its query string, e.g. `/api/v1/review-queue?limit=5`; sent as given (not re-encoded). */
  readonly path: string;
  readonly body?: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly as: TestCredentials;
}

export interface TestApiResponse {
  readonly status: number;
  readonly text: string;
  /** The body parsed as JSON, or `undefined` when it is not JSON. */
  readonly json: unknown;
}

/**
 * Sends one request to an API as a client would: SigV4 (service `execute-api`) over exactly the
 * bytes sent, or an `authorization: Bearer` header.
 */
export async function callApi(apiUrl: string, given: TestApiRequest): Promise<TestApiResponse> {
  // fetch cannot send a body with GET or HEAD (neither can most HTTP clients).
  const { body: givenBody, ...rest } = given;
  const request: TestApiRequest =
    givenBody !== undefined && !['GET', 'HEAD'].includes(given.method.toUpperCase())
      ? { ...rest, body: givenBody }
      : rest;
  const url = new URL(`${apiUrl.replace(/\/+$/, '')}${request.path}`);
  const headers: Record<string, string> = {
    ...(request.body !== undefined ? { 'content-type': 'application/json' } : {}),
    ...request.headers,
  };
  let sent = headers;
  if (request.as.kind === 'bearer') sent = { ...headers, authorization: `Bearer ${request.as.token}` };
  if (request.as.kind === 'sigv4') {
    const { credentials } = request.as;
    sent = await signedHeaders(
      apiSigner('us-east-1', async () => credentials),
      {
        url: url.toString(),
        method: request.method,
        headers,
        body: request.body,
      },
    );
  }
  const response = await fetch(url, {
    method: request.method,
    headers: Object.fromEntries(Object.entries(sent).filter(([name]) => name !== 'host')),
    ...(request.body !== undefined ? { body: request.body } : {}),
  });
  const text = await response.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, text, json };
}
