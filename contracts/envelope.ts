import * as z from 'zod';
import { LANE_NAMES } from './lanes.js';

/**
 * The command envelope carried as the SQS message body (DESIGN §3).
 * `commandType` is any well-formed type name here: whether the lane's worker
 * supports it is decided by the worker (`unsupported_command_type`), not by
 * the envelope check (`invalid_envelope`).
 */
export const ENVELOPE_SCHEMA_VERSION = 1;

const isoTimestamp = z.iso.datetime({ offset: true });

export const commandEnvelopeSchema = z
  .object({
    schemaVersion: z.literal(ENVELOPE_SCHEMA_VERSION),
    commandId: z.uuid(),
    commandType: z.string().regex(/^[a-z][a-z0-9]*(\.[a-z][a-z0-9]*)+$/, 'must look like domain.action'),
    lane: z.enum(LANE_NAMES),
    correlationId: z.string().min(1).max(256),
    causationId: z.string().min(1).max(256).optional(),
    householdId: z.string().min(1).max(128),
    conversationId: z.string().min(1).max(128).optional(),
    issuedAt: isoTimestamp,
    payload: z.record(z.string(), z.unknown()),
    replayOf: z.uuid().optional(),
  })
  .strict();

export type CommandEnvelope = z.infer<typeof commandEnvelopeSchema>;

/** Why a message body could not be used at all; both go to the DLQ at once, never retried. */
export type PoisonReason = 'invalid_json' | 'invalid_envelope';

export type EnvelopeParseResult =
  | { readonly ok: true; readonly envelope: CommandEnvelope }
  | {
      readonly ok: false;
      readonly reason: PoisonReason;
      /** Field path of the first problem (`''` for the whole body). */
      readonly fieldPath: string;
      readonly rationale: string;
      /** The commandId, when the body was JSON and carried one. */
      readonly commandId?: string;
      readonly correlationId?: string;
    };

/**
 * Parses an SQS message body into a command envelope.
 *
 * @example
 * const parsed = parseEnvelope(record.body);
 * if (!parsed.ok) deadLetter(record, parsed.reason, parsed.rationale);
 */
export function parseEnvelope(body: string): EnvelopeParseResult {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch (error) {
    return {
      ok: false,
      reason: 'invalid_json',
      fieldPath: '',
      rationale: `body is not JSON: ${(error as Error).message}`,
    };
  }
  const result = commandEnvelopeSchema.safeParse(json);
  if (result.success) return { ok: true, envelope: result.data };
  const first = result.error.issues[0];
  const fieldPath = first ? first.path.map(String).join('.') : '';
  const record = typeof json === 'object' && json !== null ? (json as Record<string, unknown>) : {};
  return {
    ok: false,
    reason: 'invalid_envelope',
    fieldPath,
    rationale: result.error.issues
      .map((i) => `${i.path.map(String).join('.') || '(root)'}: ${i.message}`)
      .join('; '),
    ...(typeof record.commandId === 'string' ? { commandId: record.commandId } : {}),
    ...(typeof record.correlationId === 'string' ? { correlationId: record.correlationId } : {}),
  };
}

/** Conversational correlation id, seed 003: `agent:{householdId}:{conversationId}:{commandId}`. */
export function conversationalCorrelationId(
  householdId: string,
  conversationId: string,
  commandId: string,
): string {
  return `agent:${householdId}:${conversationId}:${commandId}`;
}

/**
 * The commandId a conversational correlation id names, if it has that form.
 * Runs whose correlation id names their own commandId need no index entry.
 */
export function commandIdNamedByCorrelationId(correlationId: string): string | undefined {
  const match = /^agent:[^:]+:[^:]+:([0-9a-f-]{36})$/i.exec(correlationId);
  return match?.[1]?.toLowerCase();
}

/**
 * The SQS message body for an envelope: JSON with every character outside printable ASCII written
 * as a `\uXXXX` escape. SQS refuses some characters outright (U+FFFE, U+FFFF, most control
 * characters) and the local emulator refuses every supplementary-plane character; escaped, the body
 * is plain ASCII that any JSON parser reads back to the same envelope.
 */
export function serializeEnvelope(envelope: CommandEnvelope): string {
  return asciiJson(envelope);
}

/** `JSON.stringify` whose output is printable ASCII only (non-ASCII and DEL as `\uXXXX` escapes). */
export function asciiJson(value: unknown): string {
  return JSON.stringify(value).replace(
    /[\u007f-\uffff]/g,
    (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}
