import { randomUUID } from 'node:crypto';
import { open, readdir, rename } from 'node:fs/promises';
import { join } from 'node:path';
import {
  WORKER_PAYLOAD_TYPES,
  type WorkerResultEnvelope,
  workerResultEnvelopeSchema,
} from '#contracts/worker-contract.js';
import { appendNoFollow, CREATE_EXCLUSIVE, ensurePrivateDirectory } from '../runner/host-files.js';
import {
  formatSpoolFileName,
  type OfflineSpool,
  type ReplayLoop,
  type SpoolEntry,
  SpoolWriteError,
} from '../spool/index.js';
import type { LogValue, WorkerLog } from './log.js';
import type { WorkerTransport } from './transport.js';

/** Sub-folder of the spool for envelopes the control plane (or the worker itself) refused: kept, never resent. */
export const REFUSED_FOLDER = 'refused';
/** One JSON line per refusal in the refused folder: which file, why. */
export const REFUSALS_FILE = 'refusals.jsonl';

/** What became of the envelopes of one task. */
export interface HandOver {
  /** Every envelope is acknowledged, spooled or kept aside as refused: the task message may be deleted. */
  readonly durable: boolean;
  readonly acknowledged: number;
  readonly spooled: number;
  readonly refused: number;
  readonly lost: number;
}

export interface ResultOutboxOptions {
  readonly spool: OfflineSpool;
  readonly transport: WorkerTransport;
  readonly log: WorkerLog;
  readonly replayIntervalMs: number;
}

/** Spool id of an envelope: its task id (the seed's `<payload_type>-<timestamp>-<task_id>.json`), else its own id. */
export function spoolIdOf(
  envelope: Pick<WorkerResultEnvelope, 'id'> & { readonly task_id?: string },
): string {
  return envelope.task_id ?? envelope.id;
}

/**
 * Seed 004's offline mode for result envelopes. New envelopes go to the control plane at once;
 * what is not acknowledged (5xx, network, timeout) is written to the offline spool as
 * `<payload_type>-<timestamp>-<task_id>.json`, replayed continuously newest first, and deleted
 * only after the acknowledgement (a 2xx). A refusal (4xx such as `unknown_payload_type`) is
 * final: the file moves to `<spool>/refused/` (kept for a person, never resent) and the reason
 * is appended to `refused/refusals.jsonl`. A spooled file whose `payload_type` is not one of
 * the four, or that is no valid envelope, is refused locally without being sent.
 *
 * @example
 * const outbox = new ResultOutbox({ spool, transport, log, replayIntervalMs: 5_000 }).start();
 * const { durable } = await outbox.submit([envelope]); // delete the task message only when durable
 * await outbox.close();
 */
export class ResultOutbox {
  private loop: ReplayLoop | undefined;
  private readonly refusedDirectory: string;
  /** A batch of this round hit an unreachable control plane: end the round instead of trying the next batch. */
  private roundFailed = false;

  public constructor(private readonly options: ResultOutboxOptions) {
    this.refusedDirectory = join(options.spool.directory, REFUSED_FOLDER);
  }

  /** Opens the spool (indexes what earlier runs left), so {@link backlog} counts it from the start. */
  public async open(): Promise<void> {
    await this.options.spool.open();
  }

  /** Starts the background replay (first round now). */
  public start(): this {
    this.loop ??= this.options.spool.startReplayLoop({
      intervalMs: this.options.replayIntervalMs,
      deliver: (entries) => this.deliverSpooled(entries),
      onRound: (result) => {
        this.roundFailed = false;
        if (result.delivered > 0 || result.quarantined > 0) {
          this.options.log.event('spool_replay', {
            delivered: result.delivered,
            attempted: result.attempted,
            quarantined: result.quarantined,
            remaining: result.remaining,
          });
        }
      },
      onError: (error) => this.options.log.event('spool_replay_failed', { error: String(error) }),
    });
    return this;
  }

  /** Runs a replay round now (e.g. the control plane just acknowledged something). */
  public wake(): void {
    this.loop?.wake();
  }

  /** Stops the background replay, waiting for a round in flight. */
  public async close(): Promise<void> {
    await this.loop?.stop();
  }

  /** Result envelopes waiting in the spool (the heartbeat's `offline_backlog`). */
  public backlog(): { readonly files: number; readonly bytes: number } {
    const { files, bytes } = this.options.spool.stats();
    return { files, bytes };
  }

  /**
   * Hands a task's envelopes over, in order. After the first one the control plane did not
   * acknowledge, the rest go straight to the spool (no point waiting for a second timeout).
   */
  public async submit(
    envelopes: readonly WorkerResultEnvelope[],
    fields: Readonly<Record<string, LogValue>> = {},
  ): Promise<HandOver> {
    let acknowledged = 0;
    let spooled = 0;
    let refused = 0;
    let lost = 0;
    let unreachable: string | undefined;
    for (const envelope of envelopes) {
      const line = { ...fields, payload_type: envelope.payload_type, envelope_id: envelope.id };
      if (unreachable === undefined) {
        const result = await this.options.transport.sendResult(envelope);
        if (result.outcome === 'acknowledged') {
          acknowledged++;
          this.options.log.event('result_delivered', { ...line, duplicate: result.duplicate });
          continue;
        }
        if (result.outcome === 'refused') {
          try {
            await this.keepRefused(envelope, result.errorCode, {
              status: result.status,
              message: result.message,
            });
          } catch (error) {
            lost++;
            this.options.log.event('result_lost', {
              ...line,
              error_code: result.errorCode,
              error: String(error),
            });
            continue;
          }
          refused++;
          this.options.log.event('result_refused', {
            ...line,
            error_code: result.errorCode,
            status: result.status,
            message: result.message,
            kept_in: this.refusedDirectory,
          });
          continue;
        }
        unreachable = result.reason;
      }
      try {
        const info = await this.options.spool.write({
          payloadType: envelope.payload_type,
          id: spoolIdOf(envelope),
          body: envelope,
        });
        spooled++;
        this.options.log.event('result_spooled', { ...line, reason: unreachable, file: info.fileName });
      } catch (error) {
        if (!(error instanceof SpoolWriteError)) throw error;
        lost++;
        this.options.log.event('result_lost', {
          ...line,
          reason: unreachable,
          error: `${error.name}: ${error.message}`,
        });
      }
    }
    if (acknowledged > 0) this.loop?.wake(); // the control plane answers again: replay what waits
    return { durable: lost === 0, acknowledged, spooled, refused, lost };
  }

  private async deliverSpooled(entries: readonly SpoolEntry[]): Promise<{ deliveredIds: readonly string[] }> {
    if (this.roundFailed) return { deliveredIds: [] };
    // Several envelopes of one task share an id (facts + execution_result): delete only when all were acknowledged.
    const allAcknowledged = new Map<string, boolean>();
    const note = (id: string, ok: boolean): void => {
      allAcknowledged.set(id, (allAcknowledged.get(id) ?? true) && ok);
    };
    for (const [index, entry] of entries.entries()) {
      const parsed = workerResultEnvelopeSchema.safeParse(entry.body);
      const payloadType = (entry.body as { payload_type?: unknown } | null)?.payload_type;
      if (!parsed.success || parsed.data.payload_type !== entry.payloadType) {
        const errorCode =
          typeof payloadType === 'string' &&
          !(WORKER_PAYLOAD_TYPES as readonly string[]).includes(payloadType)
            ? 'unknown_payload_type'
            : 'invalid_envelope';
        const issue = parsed.success ? undefined : parsed.error.issues[0];
        await this.moveRefused(entry, errorCode, {
          source: 'local',
          message:
            issue === undefined
              ? 'payload_type differs from the file name'
              : `${issue.path.join('.')}: ${issue.message}`,
        });
        note(entry.id, false);
        continue;
      }
      const envelope = parsed.data;
      const result = await this.options.transport.sendResult(envelope);
      const line = {
        task_id: envelope.task_id,
        payload_type: envelope.payload_type,
        envelope_id: envelope.id,
        file: entry.fileName,
      };
      if (result.outcome === 'acknowledged') {
        note(entry.id, true);
        this.options.log.event('result_replayed', { ...line, duplicate: result.duplicate });
        continue;
      }
      if (result.outcome === 'refused') {
        await this.moveRefused(entry, result.errorCode, { status: result.status, message: result.message });
        note(entry.id, false);
        continue;
      }
      // Not reachable: keep this one and the rest of the batch for the next round.
      for (const rest of entries.slice(index)) note(rest.id, false);
      this.roundFailed = true;
      this.options.log.event('result_replay_failed', { ...line, reason: result.reason });
      break;
    }
    return { deliveredIds: [...allAcknowledged].filter(([, ok]) => ok).map(([id]) => id) };
  }

  /** A spooled file the control plane (or the worker) refused: moved to refused/, never resent. */
  private async moveRefused(
    entry: SpoolEntry,
    errorCode: string,
    detail: { readonly status?: number; readonly message?: string; readonly source?: string },
  ): Promise<void> {
    await ensurePrivateDirectory(this.refusedDirectory);
    // The spool forgets a file that is gone (ENOENT) on its next round.
    await rename(
      join(this.options.spool.directory, entry.fileName),
      join(this.refusedDirectory, entry.fileName),
    );
    await this.recordRefusal(entry.fileName, errorCode, detail);
    this.options.log.event('result_refused', {
      file: entry.fileName,
      payload_type: (entry.body as { payload_type?: unknown } | null)?.payload_type as LogValue,
      error_code: errorCode,
      status: detail.status,
      source: detail.source ?? 'control_plane',
      message: detail.message,
      kept_in: this.refusedDirectory,
    });
  }

  /** A new envelope refused at once: written straight to refused/ under the spool's naming. */
  private async keepRefused(
    envelope: WorkerResultEnvelope,
    errorCode: string,
    detail: { readonly status?: number; readonly message?: string },
  ): Promise<void> {
    await ensurePrivateDirectory(this.refusedDirectory);
    const timestamp = Date.now();
    const record = { payloadType: envelope.payload_type, timestamp, id: spoolIdOf(envelope) };
    const fileName = formatSpoolFileName(record);
    const data = await this.options.spool.encode({ ...record, body: envelope });
    const temp = join(this.refusedDirectory, `.tmp-${randomUUID()}`);
    const handle = await open(temp, CREATE_EXCLUSIVE, 0o600);
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, join(this.refusedDirectory, fileName));
    await this.recordRefusal(fileName, errorCode, detail);
  }

  private async recordRefusal(
    fileName: string,
    errorCode: string,
    detail: { readonly status?: number; readonly message?: string; readonly source?: string },
  ): Promise<void> {
    const line = {
      ts: new Date().toISOString(),
      file: fileName,
      error_code: errorCode,
      source: 'control_plane',
      ...detail,
    };
    // Never through a symbolic link: a link planted as refusals.jsonl is not written through (ELOOP).
    await appendNoFollow(join(this.refusedDirectory, REFUSALS_FILE), `${JSON.stringify(line)}\n`);
  }
}

/** Files kept in `<spool>/refused/` (not counting refusals.jsonl). */
export async function countRefused(spoolDirectory: string): Promise<number> {
  try {
    return (await readdir(join(spoolDirectory, REFUSED_FOLDER))).filter((name) => name.endsWith('.json'))
      .length;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw error;
  }
}
