/**
 * The local stack's auth folder (`<dataDir>/auth`): the ES256 key its JWT issuer signs household
 * tokens with, and the IAM credentials of the principals its gateway knows (the operator, one per
 * worker). The folder is 0700 and its files 0600, so only the user who runs the stack can sign as
 * one of them; the stack reports the folder's path, never a secret.
 */
import { createHash, randomBytes } from 'node:crypto';
import { chmod, link, mkdir, open, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from 'jose';
import { workerRoleName } from '#contracts/identity.js';
import { workerIdSchema, workerSiteSchema } from '#contracts/worker-contract.js';
import { LocalRuntimeError } from '../errors.js';
import { LOCAL_ENVIRONMENT } from '../stack/environment-name.js';

/** The account every local ARN names (the one the emulators use). */
export const LOCAL_ACCOUNT_ID = '000000000000';

/** The operator's ARN: any IAM principal that is not a site's worker role is an operator (DESIGN §7). */
export const LOCAL_OPERATOR_ARN = `arn:aws:iam::${LOCAL_ACCOUNT_ID}:user/runlane-local-operator`;

const SIGNING_KEY_FILE = 'jwt-signing-key.json';
const CREDENTIALS_FILE = 'credentials.json';
const FOLDER_MODE = 0o700;
const FILE_MODE = 0o600;

/** An IAM principal the local gateway knows, with its long-lived credentials. */
export interface LocalPrincipal {
  /** `operator`, `worker/<site>/<workerId>` or `runner/<host>`: what its policy is. */
  readonly name: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  /** The caller ARN API Gateway's IAM authorizer reports for it. */
  readonly arn: string;
}

/**
 * Who local credentials are for: the operator; a worker host of a site (its role session); or a
 * runner/supervisor host, whose principal has only the agent reporter policy (PutEvents), so it
 * may invoke no API route.
 */
export type LocalPrincipalSpec =
  | { readonly kind: 'operator' }
  | { readonly kind: 'worker'; readonly site: string; readonly workerId: string }
  | { readonly kind: 'runner'; readonly host: string };

/** An auth folder, ready: its path, the token signing key and the principals by access key. */
export interface LocalAuth {
  readonly dir: string;
  /** The issuer's ES256 private key (JWK with `kid`, `alg`). */
  readonly signingKey: JWK;
  /**
   * The principal holding `accessKeyId`; credentials.json is read again when the key is not
   * known yet (another process, `runlane` or an agent, may have added a worker since).
   */
  principalByAccessKey(accessKeyId: string): Promise<LocalPrincipal | undefined>;
}

/** The auth folder cannot be used (not ours to write, a file that is not what we wrote). */
export class LocalAuthError extends LocalRuntimeError {
  constructor(
    readonly dir: string,
    detail: string,
    options?: ErrorOptions,
  ) {
    super(
      `The local auth folder ${dir} cannot be used: ${detail}. Stop the stack and start it with --reset to make a new one.`,
      options,
    );
    this.name = 'LocalAuthError';
  }
}

/**
 * Creates the auth folder (0700), the signing key and the operator's credentials (0600) when they
 * are missing, and reads them. Safe to call from several processes at once.
 *
 * @example
 * const auth = await ensureLocalAuth(join(dataDir, 'auth'));
 */
export async function ensureLocalAuth(authDir: string): Promise<LocalAuth> {
  await mkdir(authDir, { recursive: true, mode: FOLDER_MODE });
  await chmod(authDir, FOLDER_MODE);
  const signingKey = await ensureSigningKey(authDir);
  let known: readonly LocalPrincipal[] = (
    await withCredentials(authDir, (principals) => ensurePrincipal(principals, OPERATOR_SPEC))
  ).principals;
  // Files restored or copied with looser modes are made the user's own again.
  for (const file of [SIGNING_KEY_FILE, CREDENTIALS_FILE]) await chmod(join(authDir, file), FILE_MODE);
  return {
    dir: authDir,
    signingKey,
    principalByAccessKey: async (accessKeyId) => {
      const found = known.find((p) => p.accessKeyId === accessKeyId);
      if (found) return found;
      known = await readCredentials(authDir);
      return known.find((p) => p.accessKeyId === accessKeyId);
    },
  };
}

/**
 * The credentials of a principal (created and stored the first time it is asked for): what a
 * local client signs its requests to the local API with.
 *
 * @example
 * const credentials = await localCredentials(info.authDir, { kind: 'worker', site: 'lab', workerId: 'w-1' });
 */
export async function localCredentials(
  authDir: string,
  principal: LocalPrincipalSpec,
): Promise<{ accessKeyId: string; secretAccessKey: string }> {
  checkNames(principal);
  await ensureLocalAuth(authDir);
  const { found } = await withCredentials(authDir, (principals) => ensurePrincipal(principals, principal));
  return { accessKeyId: found.accessKeyId, secretAccessKey: found.secretAccessKey };
}

const OPERATOR_SPEC: LocalPrincipalSpec = { kind: 'operator' };

/** Site, worker id and host become role, session and user names: refuse what those cannot carry. */
function checkNames(spec: LocalPrincipalSpec): void {
  const names: [string, typeof workerIdSchema, string][] =
    spec.kind === 'worker'
      ? [
          ['site', workerSiteSchema, spec.site],
          ['workerId', workerIdSchema, spec.workerId],
        ]
      : spec.kind === 'runner'
        ? [['host', workerIdSchema, spec.host]]
        : [];
  for (const [field, schema, value] of names) {
    const checked = schema.safeParse(value);
    if (!checked.success)
      throw new LocalRuntimeError(`${field} ${JSON.stringify(value)} ${checked.error.issues[0]?.message}`);
  }
}

function principalName(spec: LocalPrincipalSpec): string {
  if (spec.kind === 'operator') return 'operator';
  return spec.kind === 'worker' ? `worker/${spec.site}/${spec.workerId}` : `runner/${spec.host}`;
}

function principalArn(spec: LocalPrincipalSpec): string {
  if (spec.kind === 'operator') return LOCAL_OPERATOR_ARN;
  if (spec.kind === 'runner')
    return `arn:aws:iam::${LOCAL_ACCOUNT_ID}:user/runlane-local-runner-${spec.host}`;
  return `arn:aws:sts::${LOCAL_ACCOUNT_ID}:assumed-role/${workerRoleName(LOCAL_ENVIRONMENT, spec.site)}/${spec.workerId}`;
}

/** The principals with `spec`'s added when missing; `changed` when it was. */
function ensurePrincipal(
  principals: readonly LocalPrincipal[],
  spec: LocalPrincipalSpec,
): { principals: readonly LocalPrincipal[]; found: LocalPrincipal; changed: boolean } {
  const name = principalName(spec);
  const existing = principals.find((p) => p.name === name);
  if (existing) return { principals, found: existing, changed: false };
  const created: LocalPrincipal = {
    name,
    // Long-term user keys start AKIA, role sessions' ASIA (as AWS's do).
    accessKeyId: `${spec.kind === 'worker' ? 'ASIA' : 'AKIA'}${randomKeyId()}`,
    secretAccessKey: randomBytes(30).toString('base64'),
    arn: principalArn(spec),
  };
  return { principals: [...principals, created], found: created, changed: true };
}

const KEY_ID_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

function randomKeyId(): string {
  return [...randomBytes(16)].map((byte) => KEY_ID_ALPHABET[byte % 32]).join('');
}

/**
 * A stable unique id for a principal, as IAM's `userId` (`AIDA…` for a user, `AROA…:<session>`
 * for a role session), derived from its ARN.
 */
export function principalUserId(arn: string): string {
  const session = /:assumed-role\/([^/]+)\/([^/]+)$/.exec(arn);
  const digest = (text: string) =>
    [...createHash('sha256').update(text).digest().subarray(0, 16)]
      .map((byte) => KEY_ID_ALPHABET[byte % 32])
      .join('');
  return session ? `AROA${digest(session[1] ?? '')}:${session[2]}` : `AIDA${digest(arn)}`;
}

async function ensureSigningKey(authDir: string): Promise<JWK> {
  const path = join(authDir, SIGNING_KEY_FILE);
  const existing = await readJson(authDir, path);
  if (existing !== undefined) return checkedSigningKey(authDir, existing);
  const { privateKey } = await generateKeyPair('ES256', { extractable: true });
  const jwk = await exportJWK(privateKey);
  const key: JWK = { ...jwk, kid: await calculateJwkThumbprint(jwk), alg: 'ES256', use: 'sig' };
  const temporary = temporaryPath(path);
  await writeFile(temporary, `${JSON.stringify(key, null, 2)}\n`, { mode: FILE_MODE });
  await chmod(temporary, FILE_MODE);
  try {
    // A hard link appears whole and fails when the file exists: two processes creating the
    // folder at once keep one key, the first one linked.
    await link(temporary, path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    return checkedSigningKey(authDir, await readJson(authDir, path));
  } finally {
    await rm(temporary, { force: true });
  }
  return key;
}

function checkedSigningKey(authDir: string, value: unknown): JWK {
  const key = value as JWK | undefined;
  if (key?.kty !== 'EC' || key.crv !== 'P-256' || !key.d || !key.kid)
    throw new LocalAuthError(authDir, `${SIGNING_KEY_FILE} is not an ES256 private key`);
  return key;
}

async function readCredentials(authDir: string): Promise<LocalPrincipal[]> {
  const value = (await readJson(authDir, join(authDir, CREDENTIALS_FILE))) as
    | { principals?: unknown }
    | undefined;
  if (value === undefined) return [];
  const principals = value.principals;
  const valid =
    Array.isArray(principals) &&
    principals.every(
      (p) =>
        typeof p?.name === 'string' &&
        typeof p.accessKeyId === 'string' &&
        typeof p.secretAccessKey === 'string' &&
        typeof p.arn === 'string',
    );
  if (!valid) throw new LocalAuthError(authDir, `${CREDENTIALS_FILE} has no principals list`);
  return principals as LocalPrincipal[];
}

/**
 * Reads credentials.json, applies `change` and writes it back (0600, by rename) when it changed,
 * under a lock file so two processes adding principals at once both keep theirs.
 */
async function withCredentials<T extends { principals: readonly LocalPrincipal[]; changed: boolean }>(
  authDir: string,
  change: (principals: readonly LocalPrincipal[]) => T,
): Promise<T> {
  const path = join(authDir, CREDENTIALS_FILE);
  const release = await lock(`${path}.lock`);
  try {
    const result = change(await readCredentials(authDir));
    if (result.changed) {
      const temporary = temporaryPath(path);
      await writeFile(temporary, `${JSON.stringify({ principals: result.principals }, null, 2)}\n`, {
        mode: FILE_MODE,
      });
      await chmod(temporary, FILE_MODE);
      await rename(temporary, path);
    }
    return result;
  } finally {
    await release();
  }
}

const LOCK_STALE_MS = 10_000;
const LOCK_WAIT_MS = 15_000;

/** An exclusive lock file (O_EXCL); one left by a dead process is taken over once it is stale. */
async function lock(path: string): Promise<() => Promise<void>> {
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      const handle = await open(path, 'wx', FILE_MODE);
      await handle.close();
      return () => rm(path, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const since = await stat(path).then(
        (s) => Date.now() - s.mtimeMs,
        () => 0,
      );
      if (since > LOCK_STALE_MS) await rm(path, { force: true });
      else if (Date.now() > deadline)
        throw new LocalRuntimeError(`${path} stays locked; remove it if no runlane process is running`);
      else await sleep(10 + Math.random() * 20);
    }
  }
}

function temporaryPath(path: string): string {
  return `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
}

async function readJson(authDir: string, path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new LocalAuthError(authDir, `cannot read ${path} (${(error as Error).message})`, { cause: error });
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new LocalAuthError(authDir, `${path} is not JSON`, { cause: error });
  }
}
