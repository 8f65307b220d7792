import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openStackAuth } from '#local/stack/auth.js';
import { StackShutdown } from '#local/stack/shutdown.js';

const folders: string[] = [];

afterEach(() => {
  for (const folder of folders.splice(0)) rmSync(folder, { recursive: true, force: true });
});

describe("the local stack's auth folder", () => {
  it('is <dataDir>/auth, kept at shutdown', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'runlane-stack-auth-'));
    folders.push(dataDir);
    const shutdown = new StackShutdown();

    const auth = await openStackAuth({ path: dataDir, hadData: false }, shutdown);
    await shutdown.stop();

    expect(auth.dir).toBe(join(dataDir, 'auth'));
    expect(statSync(join(dataDir, 'auth', 'credentials.json')).mode & 0o777).toBe(0o600);
  });

  it('with --ephemeral (no data folder) is a temporary folder, 0700, removed at shutdown', async () => {
    const shutdown = new StackShutdown();

    const auth = await openStackAuth({ path: undefined, hadData: false }, shutdown);
    folders.push(auth.dir);

    expect(auth.dir.startsWith(tmpdir())).toBe(true);
    expect(statSync(auth.dir).mode & 0o777).toBe(0o700);
    expect(existsSync(join(auth.dir, 'jwt-signing-key.json'))).toBe(true);
    await shutdown.stop();
    expect(existsSync(auth.dir)).toBe(false);
  });
});
