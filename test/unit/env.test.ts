import { describe, expect, it } from 'vitest';
import {
  EnvironmentVariableError,
  optionalNumber,
  requireJsonStringMap,
  requireNumber,
  requireString,
} from '#handlers/env.js';

describe('handler environment', () => {
  it('names a missing variable', () => {
    expect(() => requireString('lifecycleTableName', {})).toThrow(
      new EnvironmentVariableError('LIFECYCLE_TABLE_NAME', 'is not set'),
    );
  });

  it('names a malformed number', () => {
    expect(() => requireNumber('laneMaxReceiveCount', { LANE_MAX_RECEIVE_COUNT: 'five' })).toThrow(
      /LANE_MAX_RECEIVE_COUNT must be a number, got "five"/,
    );
    expect(requireNumber('laneMaxReceiveCount', { LANE_MAX_RECEIVE_COUNT: '5' })).toBe(5);
  });

  it('falls back only when an optional number is absent', () => {
    expect(optionalNumber('staleReviewHours', 24, {})).toBe(24);
    expect(optionalNumber('staleReviewHours', 24, { SWEEP_STALE_REVIEW_HOURS: '6' })).toBe(6);
    expect(() => optionalNumber('staleReviewHours', 24, { SWEEP_STALE_REVIEW_HOURS: 'x' })).toThrow(
      /SWEEP_STALE_REVIEW_HOURS/,
    );
  });

  it('reads a JSON map of strings and names what is wrong with it', () => {
    expect(requireJsonStringMap('commandQueueUrls', { COMMAND_QUEUE_URLS: '{"a":"u"}' })).toEqual({ a: 'u' });
    expect(() => requireJsonStringMap('commandQueueUrls', { COMMAND_QUEUE_URLS: '[1]' })).toThrow(
      /COMMAND_QUEUE_URLS must be a JSON object/,
    );
    expect(() => requireJsonStringMap('commandQueueUrls', { COMMAND_QUEUE_URLS: '{"a":1}' })).toThrow(
      /value of a must be a string/,
    );
  });
});
