import { createHmac, timingSafeEqual } from 'node:crypto';
import { InvalidSpoolEntryError, SpoolChecksumError } from './errors.js';

/**
 * On-disk format of one spooled event. The file is valid JSON so people can read it:
 *
 * ```text
 * {"hmac":"<64 lowercase hex>","record":<record JSON>}\n
 * ```
 *
 * The HMAC-SHA256 (keyed with the spool's key, `spool-key.ts`) covers the exact bytes of
 * `<record JSON>`, which is sliced out by position (fixed-length prefix, fixed suffix) rather
 * than re-serialized, so any changed, missing or extra byte anywhere in the file fails
 * verification — and so does a file written by anyone without the key, even with a checksum
 * of its own (issue 18). Files of the earlier `{"sha256":…}` format fail it too (quarantined).
 */

/** Digits of the zero-padded epoch-millisecond timestamp in a file name (sorts as text until year 2286). */
export const TIMESTAMP_DIGITS = 13;

const PAYLOAD_TYPE_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9_.]{0,63}$/;
const ID_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const FILE_NAME_PATTERN =
  /^([A-Za-z0-9_][A-Za-z0-9_.]{0,63})-(\d{13})-([A-Za-z0-9_][A-Za-z0-9_.-]{0,127})\.json$/;

const PREFIX = Buffer.from('{"hmac":"');
const MIDDLE = Buffer.from('","record":');
const SUFFIX = Buffer.from('}\n');
const HEX_LENGTH = 64;
const RECORD_START = PREFIX.length + HEX_LENGTH + MIDDLE.length;
const HEX_PATTERN = /^[0-9a-f]{64}$/;

/** What a spool file name says about its event. */
export interface SpoolFileName {
  readonly payloadType: string;
  readonly timestamp: number;
  readonly id: string;
}

/** The record a spool file carries (authenticated). */
export interface SpoolRecord extends SpoolFileName {
  readonly body: unknown;
}

/** Throws `InvalidSpoolEntryError` unless `payloadType` and `id` can be part of a file name. */
export function checkNameParts(payloadType: string, id: string): void {
  if (!PAYLOAD_TYPE_PATTERN.test(payloadType)) {
    throw new InvalidSpoolEntryError(
      'payloadType',
      `${JSON.stringify(payloadType)} must be 1-64 of [A-Za-z0-9_.], no leading dot and no hyphen`,
    );
  }
  if (!ID_PATTERN.test(id)) {
    throw new InvalidSpoolEntryError(
      'id',
      `${JSON.stringify(id)} must be 1-128 of [A-Za-z0-9_.-], no leading dot`,
    );
  }
}

/** `<payloadType>-<timestamp, 13 digits>-<id>.json` (seed 004's naming). */
export function formatSpoolFileName(name: SpoolFileName): string {
  checkNameParts(name.payloadType, name.id);
  if (
    !Number.isSafeInteger(name.timestamp) ||
    name.timestamp < 0 ||
    name.timestamp >= 10 ** TIMESTAMP_DIGITS
  ) {
    throw new InvalidSpoolEntryError(
      'body',
      `timestamp ${name.timestamp} is not an epoch-millisecond integer`,
    );
  }
  const timestamp = String(name.timestamp).padStart(TIMESTAMP_DIGITS, '0');
  return `${name.payloadType}-${timestamp}-${name.id}.json`;
}

/** The parts of a spool file name, or `undefined` when the name is not a spool entry's. */
export function parseSpoolFileName(fileName: string): SpoolFileName | undefined {
  const match = FILE_NAME_PATTERN.exec(fileName);
  if (!match) return undefined;
  const [, payloadType, timestamp, id] = match;
  if (payloadType === undefined || timestamp === undefined || id === undefined) return undefined;
  return { payloadType, timestamp: Number(timestamp), id };
}

/** The bytes of a spool file for `record`, authenticated with `key`. */
export function encodeSpoolRecord(record: SpoolRecord, key: Uint8Array): Buffer {
  const json = JSON.stringify({
    payloadType: record.payloadType,
    timestamp: record.timestamp,
    id: record.id,
    body: record.body,
  });
  const recordBytes = Buffer.from(json, 'utf8');
  const hex = createHmac('sha256', key).update(recordBytes).digest('hex');
  return Buffer.concat([PREFIX, Buffer.from(hex, 'ascii'), MIDDLE, recordBytes, SUFFIX]);
}

/**
 * Verifies and decodes a spool file's bytes against `key`; throws `SpoolChecksumError` on any
 * mismatch, including a record whose payload type, timestamp or id disagree with its file name.
 */
export function decodeSpoolFile(fileName: string, bytes: Uint8Array, key: Uint8Array): SpoolRecord {
  const data = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const fail = (reason: string, cause?: unknown): never => {
    throw new SpoolChecksumError(fileName, reason, cause === undefined ? undefined : { cause });
  };
  const expected = parseSpoolFileName(fileName) ?? fail('not a spool file name');
  if (data.length < RECORD_START + SUFFIX.length) fail(`truncated (${data.length} bytes)`);
  if (!data.subarray(0, PREFIX.length).equals(PREFIX))
    fail('bad header (no hmac: not written by this agent)');
  const hex = data.subarray(PREFIX.length, PREFIX.length + HEX_LENGTH).toString('latin1');
  if (!HEX_PATTERN.test(hex)) fail('hmac field is not 64 lowercase hex digits');
  if (!data.subarray(PREFIX.length + HEX_LENGTH, RECORD_START).equals(MIDDLE)) fail('bad header');
  if (!data.subarray(data.length - SUFFIX.length).equals(SUFFIX)) fail('truncated or bad trailer');
  const recordBytes = data.subarray(RECORD_START, data.length - SUFFIX.length);
  const actual = createHmac('sha256', key).update(recordBytes).digest();
  if (!timingSafeEqual(actual, Buffer.from(hex, 'hex'))) {
    fail('hmac mismatch (altered, or not written with this spool key)');
  }

  let parsed: unknown;
  try {
    parsed = JSON.parse(recordBytes.toString('utf8'));
  } catch (error) {
    fail('record is not JSON', error);
  }
  if (typeof parsed !== 'object' || parsed === null || !('body' in parsed)) return fail('record has no body');
  const record = parsed as Record<string, unknown>;
  if (
    record.payloadType !== expected.payloadType ||
    record.timestamp !== expected.timestamp ||
    record.id !== expected.id
  ) {
    fail('record does not match its file name');
  }
  return { ...expected, body: record.body };
}
