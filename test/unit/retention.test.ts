import { describe, expect, it } from 'vitest';
import { retentionSeconds } from '#adapters/dynamodb/retention.js';

describe('retentionSeconds', () => {
  it('turns whole days into seconds', () => {
    expect(retentionSeconds(30)).toBe(2_592_000);
    expect(retentionSeconds(1)).toBe(86_400);
  });

  it('refuses zero, negative and fractional days, naming retentionDays', () => {
    for (const days of [0, -1, 1.5, Number.NaN]) {
      expect(() => retentionSeconds(days)).toThrow(`retentionDays must be a positive integer, got ${days}`);
    }
  });
});
