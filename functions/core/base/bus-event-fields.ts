/**
 * Reading untrusted bus events: both agent event ingests (runner and worker) look into an
 * EventBridge event before any schema has accepted it, and keep it whole for the dead letter.
 */

/** A plain object (not null, not an array). */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * `{ [name]: value }` when `value` is a non-empty string, else `{}`: spreads an optional field.
 *
 * @example
 * ({ ...stringField('detailType', event['detail-type']) }); // { detailType: 'RunnerStall' } or {}
 */
export function stringField<K extends string>(name: K, value: unknown): Partial<Record<K, string>> {
  return typeof value === 'string' && value.length > 0 ? ({ [name]: value } as Record<K, string>) : {};
}

/** The event as JSON for the dead letter (an EventBridge event is at most 256 KB); never throws. */
export function safeStringify(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
