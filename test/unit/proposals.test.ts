import { describe, expect, it } from 'vitest';
import { APPROVAL_ID_PATTERN, approvalIdFor, deriveProposals } from '#core/commands/proposals.js';

describe('deriveProposals', () => {
  it('proposes a high-impact transfer with its amount', () => {
    expect(deriveProposals('Please pay 120.50 to the plumber')).toEqual([
      { action: 'transfer_funds', impact: 'high', summary: 'transfer 120.50', parameters: { amount: 120.5 } },
    ]);
  });

  it('treats external messaging as high impact', () => {
    expect(deriveProposals('email bob@example.com the receipt').map((p) => [p.action, p.impact])).toEqual([
      ['send_external_message', 'high'],
    ]);
  });

  it('proposes low-impact actions and nothing for small talk', () => {
    expect(deriveProposals('remind me to categorize receipts').map((p) => p.action)).toEqual([
      'create_reminder',
      'categorize_transactions',
    ]);
    expect(deriveProposals('hello there')).toEqual([]);
  });

  it('is deterministic', () => {
    const text = 'transfer 5 and cancel the gym subscription, remind me later';
    expect(deriveProposals(text)).toEqual(deriveProposals(text));
  });
});

describe('approvalIdFor', () => {
  it('derives a stable, well-formed id per command and proposal', () => {
    const id = approvalIdFor('c1', 0);
    expect(id).toMatch(APPROVAL_ID_PATTERN);
    expect(approvalIdFor('c1', 0)).toBe(id);
    expect(approvalIdFor('c1', 1)).not.toBe(id);
  });
});
