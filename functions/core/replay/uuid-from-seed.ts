import { createHash } from 'node:crypto';

/**
 * A name-based UUID (version 5 layout, SHA-1) for a seed: the same seed always
 * gives the same id, so a retried replay step mints the same commandId.
 *
 * @example
 * uuidFromSeed('drill-1:message-9') === uuidFromSeed('drill-1:message-9'); // true
 */
export function uuidFromSeed(seed: string): string {
  const bytes = createHash('sha1').update(`runlane-replay:${seed}`).digest().subarray(0, 16);
  bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x50;
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
