import { link, open, unlink } from 'node:fs/promises';
import { HostFileError } from '../errors.js';
import { CREATE_EXCLUSIVE, READ_NO_FOLLOW } from '../runner/host-files.js';
import { errnoCode } from './errors.js';

/** 32 random bytes, stored as 64 hex digits and a newline. */
const KEY_BYTES = 32;
const KEY_TEXT = /^[0-9a-f]{64}\n?$/;

/**
 * The spool's HMAC key (issue 18: spool entries are authenticated, so a file planted by another
 * local user — even with a checksum it computed itself — is quarantined, never sent). Created at
 * first start with 32 random bytes, 0600, O_EXCL and O_NOFOLLOW; read back without following a
 * link and refused (HostFileError) unless it is the agent user's own with no group/other access.
 *
 * @example
 * const key = await loadSpoolKey('/var/lib/runlane-agent/spool.key');
 */
export async function loadSpoolKey(path: string): Promise<Buffer> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await readKey(path);
    } catch (error) {
      if (errnoCode(error) !== 'ENOENT' || attempt > 0) throw error;
    }
    // Written aside, then linked into place: a crash or a full disk never leaves a torn key behind.
    const temp = `${path}.tmp-${(await kernelRandom(8)).toString('hex')}`;
    try {
      const handle = await open(temp, CREATE_EXCLUSIVE, 0o600);
      try {
        await handle.writeFile(`${(await kernelRandom(KEY_BYTES)).toString('hex')}\n`);
        await handle.sync();
      } finally {
        await handle.close();
      }
      await link(temp, path);
    } catch (error) {
      if (errnoCode(error) !== 'EEXIST') throw error; // another start made it meanwhile: read theirs
    } finally {
      await unlink(temp).catch(() => undefined);
    }
  }
}

/**
 * `count` bytes from the kernel's random number generator (/dev/urandom, what OpenSSL seeds
 * from), not node:crypto: loading node:crypto initialises OpenSSL, about 0.8 MiB of RSS that an
 * idle `runlane-agent run` would keep for the whole run after creating its spool key (issue 18).
 */
async function kernelRandom(count: number): Promise<Buffer> {
  const bytes = Buffer.alloc(count);
  const handle = await open('/dev/urandom', 'r');
  try {
    for (let filled = 0; filled < count; ) {
      const { bytesRead } = await handle.read(bytes, filled, count - filled, null);
      if (bytesRead === 0) throw new Error('/dev/urandom gave no bytes');
      filled += bytesRead;
    }
  } finally {
    await handle.close();
  }
  return bytes;
}

async function readKey(path: string): Promise<Buffer> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(path, READ_NO_FOLLOW);
  } catch (error) {
    if (errnoCode(error) === 'ELOOP') {
      throw new HostFileError(path, 'is a symbolic link: the spool key must be a file of the agent', {
        cause: error,
      });
    }
    throw error;
  }
  try {
    const found = await handle.stat();
    const uid = typeof process.getuid === 'function' ? process.getuid() : undefined;
    if (uid !== undefined && found.uid !== uid) {
      throw new HostFileError(path, `is owned by uid ${found.uid}, not the agent's user (uid ${uid})`);
    }
    if ((found.mode & 0o077) !== 0) {
      throw new HostFileError(
        path,
        `has mode 0${(found.mode & 0o777).toString(8)}: the spool key must be 0600 (chmod 600 ${path})`,
      );
    }
    const text = await handle.readFile('utf8');
    if (!KEY_TEXT.test(text)) throw new HostFileError(path, 'is not a spool key (64 hex digits)');
    return Buffer.from(text.slice(0, KEY_BYTES * 2), 'hex');
  } finally {
    await handle.close();
  }
}
