/**
 * SigV4 verification of a request to the local API, as API Gateway's IAM authorizer does it for
 * service `execute-api` (any region): the credential scope, the time (5 minutes either way), the
 * access key (a principal of the auth folder), the body hash and the signature itself, computed
 * again with the principal's secret over the signed headers, the path, the query and the body.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';
import { NodeSha256 } from '#common/sigv4.js';
import type { LocalAuth, LocalPrincipal } from './auth-folder.js';

/** A request as it reached the gateway. */
export interface ReceivedRequest {
  readonly method: string;
  /** The path as sent, still percent-encoded (what the client signed). */
  readonly rawPath: string;
  readonly query: URLSearchParams;
  /** Header names in lower case (as node gives them). */
  readonly headers: Readonly<Record<string, string | undefined>>;
  readonly body: Buffer;
}

/** A signature's verdict: the principal that signed, or why AWS would refuse it. */
export type SignatureCheck =
  | { readonly ok: true; readonly principal: LocalPrincipal }
  | { readonly ok: false; readonly reason: string };

const ALGORITHM = 'AWS4-HMAC-SHA256';
const SERVICE = 'execute-api';
/** AWS refuses a signature dated more than 5 minutes from its clock. */
const MAX_SKEW_MS = 5 * 60_000;

/**
 * Verifies the request's SigV4 signature against the auth folder's principals.
 *
 * @example
 * const check = await verifySignedRequest(auth, { method, rawPath, query, headers, body });
 * if (!check.ok) return forbidden();
 */
export async function verifySignedRequest(
  auth: Pick<LocalAuth, 'principalByAccessKey'>,
  request: ReceivedRequest,
  now: Date = new Date(),
): Promise<SignatureCheck> {
  const header = request.headers.authorization;
  if (!header) return refused('no authorization header');
  const parsed = parseAuthorization(header);
  if (!parsed) return refused('not an AWS4-HMAC-SHA256 authorization header');
  const { accessKeyId, date, region, service, signedHeaders, signature } = parsed;
  if (service !== SERVICE) return refused(`credential scope names service ${service}, not ${SERVICE}`);
  const amzDate = request.headers['x-amz-date'] ?? '';
  const signedAt = parseAmzDate(amzDate);
  if (!signedAt) return refused('no valid x-amz-date header');
  if (!amzDate.startsWith(date)) return refused("credential scope date is not x-amz-date's");
  if (Math.abs(now.getTime() - signedAt.getTime()) > MAX_SKEW_MS) return refused('signature expired');
  if (!signedHeaders.includes('host') || !signedHeaders.includes('x-amz-date'))
    return refused('host and x-amz-date must be signed');
  // Local principals are long-term keys without a session: a token is one AWS would not know.
  if (request.headers['x-amz-security-token'] !== undefined) return refused('unknown security token');
  const principal = await auth.principalByAccessKey(accessKeyId);
  if (!principal) return refused('unknown access key');

  const bodyHash = createHash('sha256').update(request.body).digest('hex');
  const claimedHash = request.headers['x-amz-content-sha256'];
  if (claimedHash !== undefined && claimedHash !== bodyHash) return refused('body does not match its hash');
  const headers: Record<string, string> = {};
  for (const name of signedHeaders) {
    const value = name === 'x-amz-content-sha256' ? claimedHash : request.headers[name];
    if (value === undefined) return refused(`signed header ${name} is missing`);
    headers[name] = value;
  }
  const query: Record<string, string | string[]> = {};
  for (const [name, value] of request.query) {
    const seen = query[name];
    query[name] = seen === undefined ? value : [...(Array.isArray(seen) ? seen : [seen]), value];
  }
  const signer = new SignatureV4({
    service: SERVICE,
    region,
    credentials: { accessKeyId, secretAccessKey: principal.secretAccessKey },
    sha256: NodeSha256,
    // Only what the client signed: no x-amz-content-sha256 added when it did not sign one.
    applyChecksum: false,
  });
  const resigned = await signer.sign(
    {
      method: request.method,
      protocol: 'http:',
      hostname: 'local',
      path: request.rawPath,
      query,
      headers,
      body: request.body,
    },
    { signingDate: signedAt, signableHeaders: new Set(signedHeaders) },
  );
  const expected = parseAuthorization(String(resigned.headers.authorization ?? ''))?.signature ?? '';
  const match =
    expected.length === signature.length &&
    timingSafeEqual(Buffer.from(expected, 'utf8'), Buffer.from(signature, 'utf8'));
  return match ? { ok: true, principal } : refused('signature does not match');
}

function refused(reason: string): SignatureCheck {
  return { ok: false, reason };
}

/** `AWS4-HMAC-SHA256 Credential=<key>/<date>/<region>/<service>/aws4_request, SignedHeaders=a;b, Signature=<hex>`. */
function parseAuthorization(header: string):
  | {
      accessKeyId: string;
      date: string;
      region: string;
      service: string;
      signedHeaders: string[];
      signature: string;
    }
  | undefined {
  const [algorithm, ...rest] = header.trim().split(/\s+/);
  if (algorithm !== ALGORITHM) return undefined;
  const fields = new Map<string, string>();
  for (const part of rest.join('').split(',')) {
    const at = part.indexOf('=');
    if (at > 0) fields.set(part.slice(0, at).trim(), part.slice(at + 1).trim());
  }
  const scope = (fields.get('Credential') ?? '').split('/');
  const signedHeaders = (fields.get('SignedHeaders') ?? '').split(';').filter((name) => name !== '');
  const signature = fields.get('Signature') ?? '';
  const [accessKeyId, date, region, service, terminator] = scope;
  if (
    scope.length !== 5 ||
    !accessKeyId ||
    !date ||
    !region ||
    !service ||
    terminator !== 'aws4_request' ||
    signedHeaders.length === 0 ||
    !/^[0-9a-f]{64}$/.test(signature)
  )
    return undefined;
  return { accessKeyId, date, region, service, signedHeaders, signature };
}

/** `20260101T120000Z` → the Date, or undefined. */
function parseAmzDate(value: string): Date | undefined {
  const match = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (!match) return undefined;
  const date = new Date(`${match[1]}-${match[2]}-${match[3]}T${match[4]}:${match[5]}:${match[6]}Z`);
  return Number.isNaN(date.getTime()) ? undefined : date;
}
