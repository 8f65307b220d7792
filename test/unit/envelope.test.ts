import { describe, expect, it } from 'vitest';
import { commandIdNamedByCorrelationId, parseEnvelope } from '#contracts/envelope.js';
import { anEnvelope } from '../support/factories.js';

describe('parseEnvelope', () => {
  it('accepts a valid envelope', () => {
    const envelope = anEnvelope();
    const parsed = parseEnvelope(JSON.stringify(envelope));
    expect(parsed).toEqual({ ok: true, envelope });
  });

  it('reports invalid_json for a body that is not JSON', () => {
    const parsed = parseEnvelope('{"commandId": ');
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) {
      expect(parsed.reason).toBe('invalid_json');
      expect(parsed.rationale).toMatch(/not JSON/);
    }
  });

  it.each([
    ['commandId', { commandId: 'not-a-uuid' }],
    ['correlationId', { correlationId: '' }],
    ['lane', { lane: 'no-such-lane' }],
    ['schemaVersion', { schemaVersion: 2 }],
    ['issuedAt', { issuedAt: 'yesterday' }],
    ['commandType', { commandType: 'Bad Type' }],
  ])('reports invalid_envelope naming %s', (field, override) => {
    const parsed = parseEnvelope(JSON.stringify({ ...anEnvelope(), ...override }));
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) {
      expect(parsed.reason).toBe('invalid_envelope');
      expect(parsed.fieldPath).toBe(field);
    }
  });

  it('reports a missing required field by its path and keeps the ids it could read', () => {
    const { householdId: _omitted, ...rest } = anEnvelope();
    const parsed = parseEnvelope(JSON.stringify(rest));
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) {
      expect(parsed.fieldPath).toBe('householdId');
      expect(parsed.commandId).toBe(rest.commandId);
      expect(parsed.correlationId).toBe(rest.correlationId);
    }
  });

  it('rejects unknown envelope fields', () => {
    const parsed = parseEnvelope(JSON.stringify({ ...anEnvelope(), extra: true }));
    expect(parsed.ok).toBe(false);
  });

  it('rejects a JSON value that is not an object', () => {
    const parsed = parseEnvelope('[1,2]');
    expect(parsed).toMatchObject({ ok: false, reason: 'invalid_envelope' });
  });
});

describe('commandIdNamedByCorrelationId', () => {
  it('reads the commandId of a conversational correlation id', () => {
    const id = '0b7c7a43-8a1e-4a86-9c55-0a3d8c1f3f55';
    expect(commandIdNamedByCorrelationId(`agent:hh:conv:${id}`)).toBe(id);
  });

  it('returns undefined for other correlation ids', () => {
    expect(commandIdNamedByCorrelationId('ingestion:bank:123')).toBeUndefined();
    expect(commandIdNamedByCorrelationId('agent:hh:conv:not-a-uuid')).toBeUndefined();
  });
});
