import { describe, expect, it } from 'vitest';
import { matchesEventPattern } from '#contracts/event-pattern.js';

const event = {
  source: 'runlane.agent',
  'detail-type': 'RunnerStall',
  detail: { rootCause: 'network', elapsedMs: 4500, host: 'web-1', tags: ['a', 'b'] },
};

describe('matchesEventPattern', () => {
  it('matches value lists and nested fields', () => {
    expect(
      matchesEventPattern({ source: ['runlane.agent'], detail: { rootCause: ['network', 'lock'] } }, event),
    ).toBe(true);
    expect(matchesEventPattern({ source: ['runlane.lanes'] }, event)).toBe(false);
    expect(matchesEventPattern({ detail: { rootCause: ['io_wait'] } }, event)).toBe(false);
  });

  it('matches any element of an array field', () => {
    expect(matchesEventPattern({ detail: { tags: ['b'] } }, event)).toBe(true);
    expect(matchesEventPattern({ detail: { tags: ['c'] } }, event)).toBe(false);
  });

  it('supports prefix, suffix, anything-but and exists', () => {
    expect(matchesEventPattern({ detail: { host: [{ prefix: 'web-' }] } }, event)).toBe(true);
    expect(matchesEventPattern({ detail: { host: [{ suffix: '-2' }] } }, event)).toBe(false);
    expect(matchesEventPattern({ detail: { rootCause: [{ 'anything-but': ['lock'] }] } }, event)).toBe(true);
    expect(matchesEventPattern({ detail: { rootCause: [{ 'anything-but': 'network' }] } }, event)).toBe(
      false,
    );
    expect(matchesEventPattern({ detail: { missing: [{ exists: false }] } }, event)).toBe(true);
    expect(matchesEventPattern({ detail: { host: [{ exists: false }] } }, event)).toBe(false);
  });

  it('supports numeric ranges', () => {
    expect(
      matchesEventPattern({ detail: { elapsedMs: [{ numeric: ['>', 4000, '<=', 5000] }] } }, event),
    ).toBe(true);
    expect(matchesEventPattern({ detail: { elapsedMs: [{ numeric: ['<', 100] }] } }, event)).toBe(false);
  });

  it('does not match a field the event lacks', () => {
    expect(matchesEventPattern({ detail: { nope: ['x'] } }, event)).toBe(false);
    expect(matchesEventPattern({ detail: { nope: [{ prefix: '' }] } }, event)).toBe(false);
  });
});
