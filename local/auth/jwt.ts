/**
 * The local JWT issuer: household tokens signed with the auth folder's ES256 key, verified as API
 * Gateway's JWT authorizer verifies them (signature with the issuer's key by `kid`, `iss`, `aud`,
 * `exp` required and in the future, `nbf`/`iat` when present).
 */
import { importJWK, type JWK, type JWTPayload, jwtVerify, SignJWT } from 'jose';
import { DEFAULT_JWT_CLAIMS, type HouseholdRole } from '#contracts/identity.js';
import { ensureLocalAuth, type LocalAuth } from './auth-folder.js';

/** The `iss` of every local token. */
export const LOCAL_JWT_ISSUER = 'https://auth.runlane.local/';
/** The `aud` the local gateway's JWT authorizer wants. */
export const LOCAL_JWT_AUDIENCE = 'runlane-local';

const ALGORITHM = 'ES256';
const DEFAULT_TTL_SECONDS = 3600;

export interface LocalTokenRequest {
  readonly householdId: string;
  /** @default 'member' */
  readonly role?: HouseholdRole;
  /** The token's `sub` (an approval's `decidedBy`). @default `<role>@<householdId>` */
  readonly subject?: string;
  /** @default 3600 */
  readonly ttlSeconds?: number;
}

/**
 * A household token the local stack accepts: `iss`, `aud`, `sub`, `iat`, `exp` and the
 * `custom:household` / `custom:runlane_role` claims, signed with the folder's key.
 *
 * @example
 * const token = await issueLocalToken(info.authDir, { householdId: 'hh-1', role: 'approver' });
 * await fetch(url, { headers: { authorization: `Bearer ${token}` } });
 */
export async function issueLocalToken(authDir: string, request: LocalTokenRequest): Promise<string> {
  return (await issueLocalTokenDetails(authDir, request)).token;
}

/** {@link issueLocalToken}, with what the token says (what `runlane token --json` prints). */
export async function issueLocalTokenDetails(
  authDir: string,
  request: LocalTokenRequest,
  now: Date = new Date(),
): Promise<{ token: string; expiresAt: string; householdId: string; role: HouseholdRole; subject: string }> {
  const role = request.role ?? 'member';
  const subject = request.subject ?? `${role}@${request.householdId}`;
  const ttl = request.ttlSeconds ?? DEFAULT_TTL_SECONDS;
  const { signingKey } = await ensureLocalAuth(authDir);
  const issuedAt = Math.floor(now.getTime() / 1000);
  const expiresAt = issuedAt + ttl;
  const token = await new SignJWT({
    [DEFAULT_JWT_CLAIMS.household]: request.householdId,
    [DEFAULT_JWT_CLAIMS.role]: role,
  })
    .setProtectedHeader({ alg: ALGORITHM, typ: 'JWT', ...(signingKey.kid ? { kid: signingKey.kid } : {}) })
    .setIssuer(LOCAL_JWT_ISSUER)
    .setAudience(LOCAL_JWT_AUDIENCE)
    .setSubject(subject)
    .setIssuedAt(issuedAt)
    .setExpirationTime(expiresAt)
    .sign(await importJWK(signingKey, ALGORITHM));
  return {
    token,
    expiresAt: new Date(expiresAt * 1000).toISOString(),
    householdId: request.householdId,
    role,
    subject,
  };
}

/** A token's verdict: its claims, or why API Gateway would refuse it (its `error_description`). */
export type TokenCheck =
  | { readonly ok: true; readonly claims: JWTPayload }
  | { readonly ok: false; readonly reason: string };

/**
 * Verifies a bearer token against the folder's issuer as API Gateway's JWT authorizer does.
 *
 * @example
 * const check = await verifyLocalToken(auth, token);
 * if (!check.ok) return unauthorized(check.reason);
 */
export async function verifyLocalToken(
  auth: Pick<LocalAuth, 'signingKey'>,
  token: string,
  now: Date = new Date(),
): Promise<TokenCheck> {
  const { d: _private, ...publicJwk } = auth.signingKey as JWK & { d?: string };
  try {
    const { payload, protectedHeader } = await jwtVerify(token, await importJWK(publicJwk, ALGORITHM), {
      issuer: LOCAL_JWT_ISSUER,
      audience: LOCAL_JWT_AUDIENCE,
      algorithms: [ALGORITHM],
      requiredClaims: ['exp'],
      currentDate: now,
    });
    // API Gateway picks the issuer's key by `kid`: a token without the key's kid is refused.
    if (protectedHeader.kid !== auth.signingKey.kid)
      return { ok: false, reason: 'the token has no known kid' };
    return { ok: true, claims: payload };
  } catch (error) {
    return { ok: false, reason: reasonOf(error) };
  }
}

function reasonOf(error: unknown): string {
  const code = (error as { code?: string }).code;
  if (code === 'ERR_JWT_EXPIRED') return 'the token has expired';
  if (code === 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED') return 'the token does not have a valid signature';
  if (code === 'ERR_JWT_CLAIM_VALIDATION_FAILED')
    return `the token's ${(error as { claim?: string }).claim} is not valid`;
  return 'the token is not valid';
}
