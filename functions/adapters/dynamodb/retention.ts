/**
 * A record's time to live in seconds from a retention in days (DynamoDB's `expiresAt` is epoch
 * seconds); refuses anything but a positive whole number of days.
 *
 * @example
 * retentionSeconds(30); // 2_592_000
 */
export function retentionSeconds(retentionDays: number): number {
  if (!(Number.isInteger(retentionDays) && retentionDays > 0)) {
    throw new RangeError(`retentionDays must be a positive integer, got ${retentionDays}`);
  }
  return retentionDays * 24 * 60 * 60;
}
