import { createHash } from 'node:crypto';

/** The fixed UUID namespace of replay commandIds (RFC 9562 name-based ids). Never change it. */
const REPLAY_NAMESPACE = 'fb5fd1ba-a179-4133-b27c-56059cf7119c';

/**
 * The commandId of the replay of `originalCommandId`: a UUIDv5 (RFC 9562, SHA-1) of the original
 * commandId in {@link REPLAY_NAMESPACE}. The dead letter fixes it, whatever the drill, so a drill
 * run again after a crash, a retried Step Functions task or a second dead letter of the same command
 * all re-send the same command, which the lane worker deduplicates by commandId.
 *
 * @example
 * replayCommandIdFor(deadLetter.commandId) === replayCommandIdFor(deadLetter.commandId); // true
 */
export function replayCommandIdFor(originalCommandId: string): string {
  const namespace = Buffer.from(REPLAY_NAMESPACE.replaceAll('-', ''), 'hex');
  const bytes = createHash('sha1')
    .update(namespace)
    .update(originalCommandId, 'utf8')
    .digest()
    .subarray(0, 16);
  bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x50;
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
