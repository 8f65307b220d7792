import { type ChildProcess, spawn } from 'node:child_process';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  decodeSpoolFile,
  errnoCode,
  OfflineSpool,
  parseSpoolFileName,
  type SpoolEntry,
} from '#agent/spool/index.js';
import { spoolWriterDigest } from './fixtures/spool-digest.js';
import { tempSpoolDirectory } from './spool-helpers.js';

/**
 * kill -9 during spool writes, repeated KILLS times: a real child process writes
 * events in a loop (with evictions, since the bound is small) and is SIGKILLed at a
 * random moment inside that loop, then restarted on the same folder. The writer is
 * bundled once with esbuild so each restart is a plain `node` start (~50 ms), not tsx.
 */
const KILLS = 1_000;
/** Writers run side by side, each on its own folder (one spool instance per folder). */
const LANES = 2;
const MAX_BYTES = 64 * 1024;
const WRITER = fileURLToPath(new URL('./fixtures/spool-writer.ts', import.meta.url));

let root: { directory: string; remove: () => Promise<void> };
let bundle: string;

beforeAll(async () => {
  root = await tempSpoolDirectory();
  bundle = join(root.directory, '..', 'spool-writer.mjs');
  await build({
    entryPoints: [WRITER],
    bundle: true,
    platform: 'node',
    format: 'esm',
    outfile: bundle,
    logLevel: 'error',
    // proper-lockfile (the spool's writer lock) is CommonJS: its require() of Node's modules needs one.
    banner: {
      js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
    },
  });
});
afterAll(async () => {
  await root.remove();
});

/** Deterministic PRNG (mulberry32), so the kill schedule is the same on every run. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** Resolves once the child printed `ready` (it has finished one write and is inside its write loop). */
function readyOrExit(child: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    let output = '';
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('ready\n')) {
        child.stdout?.off('data', onData);
        child.off('exit', onExit);
        resolve();
      }
    };
    const onExit = (code: number | null) => reject(new Error(`writer exited early (${code}): ${output}`));
    child.stdout?.on('data', onData);
    child.once('exit', onExit);
  });
}

/** The spool key as the spool stores it (64 hex digits). */
const keyOf = (text: Buffer): Buffer => Buffer.from(text.toString('utf8').trim(), 'hex');

interface LaneReport {
  kills: number;
  /** Kills after which a `.tmp-*` file was left: the kill landed between creating and renaming a file. */
  tornTempFiles: number;
  /** Entries decoded and verified by the periodic checks between kills. */
  verified: number;
  badSeen: string[];
}

async function runLane(directory: string, kills: number, seed: number): Promise<LaneReport> {
  const next = random(seed);
  let tornTempFiles = 0;
  let verified = 0;
  const badSeen: string[] = [];
  for (let generation = 0; generation < kills; generation += 1) {
    const child = spawn(process.execPath, [bundle, directory, String(MAX_BYTES), `${seed}x${generation}`], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const exited = new Promise<NodeJS.Signals | null>((resolve) =>
      child.once('exit', (_code, signal) => resolve(signal)),
    );
    await readyOrExit(child);
    await new Promise((resolve) => setTimeout(resolve, next() * 6));
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');
    const names = await readdir(directory);
    if (names.some((name) => name.startsWith('.tmp-'))) tornTempFiles += 1;
    if (generation % 50 === 49) {
      // Check every entry as it stands now, before later evictions can hide a bad one.
      for (const name of names.filter((n) => parseSpoolFileName(n) !== undefined)) {
        try {
          decodeSpoolFile(
            name,
            await readFile(join(directory, name)),
            await readFile(`${directory}.key`).then(keyOf),
          );
          verified += 1;
        } catch (error) {
          if (errnoCode(error) !== 'ENOENT') badSeen.push(`${name}: ${String(error)}`);
        }
      }
    }
  }
  return { kills, tornTempFiles, verified, badSeen };
}

describe('OfflineSpool under kill -9', () => {
  it(`never leaves a file that replays as a bad event after ${KILLS} kill -9 of a writer mid-write`, async () => {
    const started = Date.now();
    const directories = Array.from({ length: LANES }, (_, lane) => join(root.directory, `lane-${lane}`));

    const reports = await Promise.all(
      directories.map((directory, lane) => runLane(directory, Math.ceil(KILLS / LANES), 1_000 + lane)),
    );

    let files = 0;
    for (const directory of directories) {
      const spool = new OfflineSpool({ directory, maxBytes: MAX_BYTES });
      const bad: string[] = [];
      const seen = new Set<string>();
      const pending = await spool.pending();
      const sizes = await Promise.all(
        pending.map(async (entry) => (await stat(join(directory, entry.fileName))).size),
      );
      const result = await spool.replay(async (entries: readonly SpoolEntry[]) => {
        for (const entry of entries) {
          const body = entry.body as { id?: unknown; padding?: unknown; digest?: unknown };
          const good =
            body.id === entry.id &&
            typeof body.padding === 'string' &&
            body.digest === spoolWriterDigest(entry.id, body.padding);
          if (!good || seen.has(entry.id)) bad.push(entry.fileName);
          seen.add(entry.id);
        }
        return { deliveredIds: entries.map((entry) => entry.id) };
      });
      expect(bad).toEqual([]);
      expect(result).toMatchObject({
        quarantined: 0,
        attempted: pending.length,
        delivered: pending.length,
        remaining: 0,
      });
      expect(pending.reduce((sum, entry) => sum + entry.bytes, 0)).toBeLessThanOrEqual(MAX_BYTES);
      expect(sizes).toEqual(pending.map((entry) => entry.bytes));
      // Nothing but the quarantine folder and the writer lock (held by this process's spool).
      expect(
        (await readdir(directory)).filter((name) => name !== 'quarantine' && !name.startsWith('.writer.')),
      ).toEqual([]);
      await spool.close();
      files += pending.length;
    }
    const kills = reports.reduce((sum, report) => sum + report.kills, 0);
    const torn = reports.reduce((sum, report) => sum + report.tornTempFiles, 0);
    const verifiedBetweenKills = reports.reduce((sum, report) => sum + report.verified, 0);
    expect(reports.flatMap((report) => report.badSeen)).toEqual([]);
    console.info(
      `spool kill -9: ${kills} kills in ${Date.now() - started} ms over ${LANES} writers; ` +
        `${torn} left a torn temp file (kill between create and rename); ${verifiedBetweenKills} entries verified between kills, ${files} replayed at the end, 0 bad`,
    );
    expect(kills).toBeGreaterThanOrEqual(KILLS);
    expect(files).toBeGreaterThan(0);
  }, 300_000);
});
