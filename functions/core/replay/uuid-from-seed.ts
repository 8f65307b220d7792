import { createHash } from 'node:crypto';

/**
 * A name-based UUID (version 5 layout, SHA-1, no namespace) for a seed: the same seed always
 * gives the same id (worker task ids, `workerTaskIdFor`). Replay commandIds are RFC 9562 UUIDv5s
 * of the original commandId instead: `replayCommandIdFor` in replay-command-id.ts.
 *
 * @example
 * uuidFromSeed('worker-task:c-1:apr-1') === uuidFromSeed('worker-task:c-1:apr-1'); // true
 */
export function uuidFromSeed(seed: string): string {
  const bytes = createHash('sha1').update(`runlane-replay:${seed}`).digest().subarray(0, 16);
  bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x50;
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
