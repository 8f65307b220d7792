import type { HouseholdRole } from '#contracts/identity.js';
import { EXIT_FAILURE } from '../exit-codes.js';

/** The options of `runlane token` (cli/definitions/token.ts). */
export interface TokenOptions {
  readonly household: string;
  readonly role: HouseholdRole;
  /** @default `<role>@<household>` */
  readonly subject?: string;
  readonly ttl: number;
  readonly apiUrl: string;
  readonly json?: true;
}

/**
 * `runlane token`: finds the stack's auth folder through `/_local/info` and prints a token of the
 * local issuer (the token alone, or `--json` with what it says).
 */
export async function runToken(options: TokenOptions): Promise<number> {
  const base = options.apiUrl.replace(/\/+$/, '');
  const authDir = await localAuthDir(base);
  if (typeof authDir !== 'string') {
    console.error(`runlane token: ${authDir.problem}`);
    return EXIT_FAILURE;
  }
  const { issueLocalTokenDetails } = await import('#local/auth/local-auth.js');
  let issued: Awaited<ReturnType<typeof issueLocalTokenDetails>>;
  try {
    issued = await issueLocalTokenDetails(authDir, {
      householdId: options.household,
      role: options.role,
      ...(options.subject === undefined ? {} : { subject: options.subject }),
      ttlSeconds: options.ttl,
    });
  } catch (error) {
    console.error(`runlane token: cannot sign with the auth folder ${authDir}: ${(error as Error).message}`);
    return EXIT_FAILURE;
  }
  console.log(options.json ? JSON.stringify(issued) : issued.token);
  return 0;
}

/** `authDir` of the stack at `base`, or what is wrong. */
async function localAuthDir(base: string): Promise<string | { problem: string }> {
  const response = await fetch(`${base}/_local/info`).catch(() => undefined);
  if (!response?.ok) return { problem: `no local stack answers at ${base} (start one with npm start)` };
  const info = (await response.json().catch(() => ({}))) as { authDir?: unknown };
  if (typeof info.authDir !== 'string' || info.authDir === '')
    return {
      problem: `the local stack at ${base} names no authDir in /_local/info (restart it with this version)`,
    };
  return info.authDir;
}
