/**
 * The agent's files on the host (issue 18): its state, spool, evidence and crash-report folders
 * are private (0700, the agent user's own), files in them are created 0600 without ever
 * following a symbolic link, and the config files that decide what it runs (the script
 * allowlist above all) are refused when someone else could have written them.
 */
import { constants } from 'node:fs';
import { lstat, mkdir, open, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { HostFileError } from '../errors.js';

/** Opens for appending; creates 0600; fails (ELOOP) on a symbolic link instead of writing its target. */
export const APPEND_NO_FOLLOW =
  constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW;
/** Creates a new file (fails when the name exists, as a file or a link): temp files, keys. */
export const CREATE_EXCLUSIVE =
  constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
/** Reads without following a symbolic link. */
export const READ_NO_FOLLOW = constants.O_RDONLY | constants.O_NOFOLLOW;

/** The agent's user id; undefined where there is none (Windows): the ownership checks are skipped there. */
function agentUid(): number | undefined {
  return typeof process.getuid === 'function' ? process.getuid() : undefined;
}

const octal = (mode: number): string => `0${(mode & 0o777).toString(8)}`;

/**
 * Makes `path` (and missing parents) with mode 0700, then checks the folder is private: a real
 * folder (not a link to one), owned by the agent's user, no group or other permission bits.
 * Throws {@link HostFileError} naming the path otherwise: a folder made by someone else, or
 * opened up, is never written to.
 *
 * @example
 * await ensurePrivateDirectory('/var/lib/runlane-agent/spool');
 */
export async function ensurePrivateDirectory(path: string): Promise<void> {
  await mkdir(path, { recursive: true, mode: 0o700 });
  const found = await lstat(path);
  if (found.isSymbolicLink()) {
    throw new HostFileError(path, 'is a symbolic link: the agent uses only a real folder of its own');
  }
  if (!found.isDirectory()) throw new HostFileError(path, 'is not a folder');
  const uid = agentUid();
  if (uid !== undefined && found.uid !== uid) {
    throw new HostFileError(
      path,
      `is owned by uid ${found.uid}, not the agent's user (uid ${uid}): chown it to the agent's user, mode 0700`,
    );
  }
  if ((found.mode & 0o077) !== 0) {
    throw new HostFileError(
      path,
      `has mode ${octal(found.mode)}: group and others must have no access (chmod 700 ${path})`,
    );
  }
}

/**
 * A config or allowlist file: refused when group or others may write it, or when it is owned by
 * anyone but root or the agent's user (whoever owns it decides what the agent runs).
 *
 * @example
 * await checkConfigFile('/etc/runlane-agent/worker.json'); // throws HostFileError when chmod 666
 */
export async function checkConfigFile(path: string): Promise<void> {
  let found: Awaited<ReturnType<typeof stat>>;
  try {
    found = await stat(path);
  } catch {
    return; // unreadable or missing: the loader reports it as such
  }
  const uid = agentUid();
  if (uid !== undefined && found.uid !== 0 && found.uid !== uid) {
    throw new HostFileError(
      path,
      `is owned by uid ${found.uid}: a config file must be owned by root or the agent's user (uid ${uid})`,
    );
  }
  if ((found.mode & 0o022) !== 0) {
    throw new HostFileError(
      path,
      `has mode ${octal(found.mode)}: a config file must not be writable by group or others (chmod go-w ${path})`,
    );
  }
}

/**
 * Appends `text` to `file` in one write, creating it 0600; never follows a symbolic link (ELOOP:
 * a link planted in the agent's place is not written through).
 */
export async function appendNoFollow(file: string, text: string): Promise<void> {
  const handle = await open(file, APPEND_NO_FOLLOW, 0o600);
  try {
    await handle.write(text);
  } finally {
    await handle.close();
  }
}

/**
 * {@link ensurePrivateDirectory} of each folder (relative ones against `cwd`); the refusal of the
 * first that is not private, or undefined when all are. For a command's start-up check.
 *
 * @example
 * const refusal = await privateFoldersRefusal(['evidence/runner'], process.cwd());
 * if (refusal) { log(refusal.message); return EXIT_CODES.usage; }
 */
export async function privateFoldersRefusal(
  folders: readonly string[],
  cwd: string,
): Promise<HostFileError | undefined> {
  for (const folder of new Set(folders.map((path) => resolve(cwd, path)))) {
    try {
      await ensurePrivateDirectory(folder);
    } catch (error) {
      if (error instanceof HostFileError) return error;
      return new HostFileError(folder, `cannot be made: ${(error as Error).message}`, { cause: error });
    }
  }
  return undefined;
}
