import { SqsDeadLetterQueue } from '#adapters/sqs/dead-letter-queue.js';
import { UsageError } from '../errors.js';
import { EXIT_NOT_FOUND } from '../exit-codes.js';
import { resolveTarget } from '../targets.js';

/** The options of `runlane dlq list` and `runlane dlq show` (cli/definitions/dlq.ts). */
export interface DlqOptions {
  readonly apiUrl: string;
  readonly env?: string | undefined;
  readonly lane?: string | undefined;
  /** Dead letters read per lane. @default 1000 (list), 100000 (show: it looks for one) */
  readonly limit?: number | undefined;
  readonly json?: boolean | undefined;
}

interface DeadLetterRow {
  readonly lane: string;
  readonly messageId: string;
  readonly commandId: string | null;
  readonly correlationId: string | null;
  readonly reason: string;
  readonly rationale: string;
  readonly receiveCount: number;
  readonly ageSeconds: number | null;
  readonly body: string;
}

/** `runlane dlq list`: every dead letter of the lanes, peeked (made visible again at once). */
export async function runDlqList(options: DlqOptions): Promise<number> {
  const { rows, description } = await readDeadLetters(options);
  if (options.json) {
    console.log(
      JSON.stringify(
        rows.map(({ body: _body, ...row }) => row),
        null,
        2,
      ),
    );
    return 0;
  }
  console.log(`${rows.length} dead letter(s) in ${description}`);
  for (const r of rows) {
    console.log(
      `${r.lane}  ${r.messageId}  ${r.reason.padEnd(24)}  command ${r.commandId ?? '-'}  correlation ${r.correlationId ?? '-'}  receives ${r.receiveCount}  age ${r.ageSeconds ?? '?'}s\n    ${r.rationale}`,
    );
  }
  return 0;
}

/** `runlane dlq show <messageId>`: one dead letter with its body; exit 4 when there is none. */
export async function runDlqShow(messageId: string, options: DlqOptions): Promise<number> {
  const { rows, lanes } = await readDeadLetters({ ...options, limit: options.limit ?? 100_000 });
  const row = rows.find((r) => r.messageId === messageId);
  if (!row) {
    console.error(`runlane dlq: no dead letter ${messageId} in ${lanes.join(', ')}`);
    return EXIT_NOT_FOUND;
  }
  console.log(
    options.json
      ? JSON.stringify(row, null, 2)
      : Object.entries(row)
          .map(([k, v]) => `${k.padEnd(14)} ${String(v)}`)
          .join('\n'),
  );
  return 0;
}

/** The dead letters of `--lane` (default: every lane of the target), without consuming them. */
async function readDeadLetters(
  options: DlqOptions,
): Promise<{ rows: DeadLetterRow[]; lanes: string[]; description: string }> {
  const target = await resolveTarget({ apiUrl: options.apiUrl, env: options.env });
  const lanes = options.lane ? [options.lane] : Object.keys(target.settings.lanes);
  const now = Date.now();
  const rows: DeadLetterRow[] = [];
  for (const lane of lanes) {
    const queues = target.settings.lanes[lane];
    if (!queues) {
      throw new UsageError(`unknown lane ${lane}; lanes: ${Object.keys(target.settings.lanes).join(', ')}`);
    }
    const limit = options.limit ?? 1000;
    const messages = await new SqsDeadLetterQueue({
      client: target.clients.sqs,
      queueUrl: queues.dlqUrl,
    }).receive(limit, 0);
    // Never a silent cut: a lane with more dead letters than were read is named.
    if (messages.length >= limit)
      console.error(
        `runlane dlq: ${lane} holds more than ${limit} dead letters; raise --limit to read them all`,
      );
    for (const m of messages) {
      rows.push({
        lane,
        messageId: m.messageId,
        commandId: m.attributes.commandId ?? null,
        correlationId: m.attributes.correlationId ?? null,
        reason: m.attributes.reason ?? 'redriven_without_reason',
        rationale: m.attributes.rationale ?? '',
        receiveCount: Number(m.attributes.receiveCount ?? m.receiveCount),
        ageSeconds: m.sentAt > 0 ? Math.round((now - m.sentAt) / 1000) : null,
        body: m.body,
      });
    }
  }
  return { rows, lanes, description: target.description };
}
