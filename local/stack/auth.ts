/**
 * The stack's auth folder: `<dataDir>/auth`, kept with the data (tokens and credentials stay good
 * across restarts, `--reset` makes new ones); with `--ephemeral`, a temporary folder removed at
 * shutdown.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureLocalAuth, type LocalAuth } from '../auth/auth-folder.js';
import type { DataFolder } from './data-folder.js';
import type { StackShutdown } from './shutdown.js';

/**
 * Opens (creating when needed) the auth folder of the stack's data folder.
 *
 * @example
 * const auth = await openStackAuth(folder, shutdown); // auth.dir: '/work/main/.runlane/auth'
 */
export async function openStackAuth(folder: DataFolder, shutdown: StackShutdown): Promise<LocalAuth> {
  if (folder.path) return ensureLocalAuth(join(folder.path, 'auth'));
  const dir = await mkdtemp(join(tmpdir(), 'runlane-auth-'));
  shutdown.add(() => rm(dir, { recursive: true, force: true }));
  return ensureLocalAuth(dir);
}
