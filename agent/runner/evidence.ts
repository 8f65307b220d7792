import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { RunnerRunSummaryEvent, RunnerStallEvent } from '#contracts/agent-events.js';
import { EvidenceWriteError } from '../errors.js';
import { ensurePrivateDirectory } from './host-files.js';

/**
 * The events' schemas, loaded on the first append (at a stall or when the command ends): they
 * bring zod's classic API, which an idle `runlane-agent run` does not need (issue 18).
 */
const eventSchemas = () => import('#contracts/agent-events.js');

/** Read (to find a torn last line) and append; 0600 when created; never through a symbolic link (ELOOP). */
const APPEND_READ_NO_FOLLOW =
  constants.O_RDWR | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW;

/**
 * Appends one JSON line to a JSON Lines file in a private folder (0700, refused when not the
 * agent user's own), created 0600, never through a symbolic link: one `write` of the whole line (O_APPEND)
 * followed by `fsync`, so a crash can at worst leave the last line unfinished. A torn
 * tail is closed off with a newline before the next append, so it never swallows the
 * next event; readers skip it.
 */
async function appendJsonLine(file: string, value: unknown): Promise<void> {
  const line = `${JSON.stringify(value)}\n`;
  try {
    // The folder is private to the agent (0700, its own); a link planted as the file is not written through.
    await ensurePrivateDirectory(dirname(file));
    const handle = await open(file, APPEND_READ_NO_FOLLOW, 0o600);
    try {
      const { size } = await handle.stat();
      let prefix = '';
      if (size > 0) {
        const last = Buffer.alloc(1);
        await handle.read(last, 0, 1, size - 1);
        if (last[0] !== 0x0a) prefix = '\n'; // an earlier append was cut short
      }
      await handle.write(prefix + line);
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch (error) {
    throw new EvidenceWriteError(file, { cause: error });
  }
}

/**
 * Appends stall events to a JSON Lines file, one event per line, crash-safe (see `appendJsonLine`).
 *
 * @example
 * await new EvidenceWriter('evidence/runner/stall-events.jsonl').append(event);
 */
export class EvidenceWriter {
  public constructor(public readonly file: string) {}

  public async append(event: RunnerStallEvent): Promise<void> {
    const { runnerStallEventSchema } = await eventSchemas();
    await appendJsonLine(this.file, runnerStallEventSchema.parse(event));
  }
}

/**
 * Appends run summaries (one per run, stalled or not) to `run-summaries.jsonl`, crash-safe.
 *
 * @example
 * await new RunSummaryWriter('evidence/runner/run-summaries.jsonl').append(summary);
 */
export class RunSummaryWriter {
  public constructor(public readonly file: string) {}

  public async append(summary: RunnerRunSummaryEvent): Promise<void> {
    const { runnerRunSummaryEventSchema } = await eventSchemas();
    await appendJsonLine(this.file, runnerRunSummaryEventSchema.parse(summary));
  }
}
