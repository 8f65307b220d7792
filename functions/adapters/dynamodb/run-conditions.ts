import { KEY_STATUS, type RunRecord } from '#contracts/lifecycle.js';

/**
 * The condition for replacing a Reserved run with a put only while it is still exactly as `seen`:
 * same attempt, lock and update time, and none of the counters that updates add without touching
 * `updatedAt` (`duplicateDeliveries`, `replayedAs`) moved — a put would silently drop them.
 */
export function unchangedReservedRun(seen: RunRecord): {
  readonly ConditionExpression: string;
  readonly ExpressionAttributeValues: Record<string, unknown>;
} {
  const values: Record<string, unknown> = {
    ':reserved': KEY_STATUS.Reserved,
    ':attempts': seen.attempts,
    ':updatedAt': seen.updatedAt,
  };
  const unchanged = (attribute: 'lockOwner' | 'lockExpiresAt' | 'duplicateDeliveries'): string => {
    const value = seen[attribute];
    if (value === undefined) return `attribute_not_exists(${attribute})`;
    values[`:${attribute}`] = value;
    return `${attribute} = :${attribute}`;
  };
  let sameReplays = 'attribute_not_exists(replayedAs)';
  if (seen.replayedAs !== undefined) {
    values[':replays'] = seen.replayedAs.length;
    sameReplays = 'size(replayedAs) = :replays';
  }
  return {
    ConditionExpression: [
      'keyStatus = :reserved',
      'attempts = :attempts',
      'updatedAt = :updatedAt',
      unchanged('lockOwner'),
      unchanged('lockExpiresAt'),
      unchanged('duplicateDeliveries'),
      sameReplays,
    ].join(' AND '),
    ExpressionAttributeValues: values,
  };
}
