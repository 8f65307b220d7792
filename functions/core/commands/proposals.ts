import { createHash } from 'node:crypto';
import type { ProposedAction } from '#contracts/lifecycle.js';

/**
 * Deterministic rule set that turns a conversation message into proposed
 * actions. High-impact actions become approval requests and are never executed
 * without an approval; nothing is ever sent externally on its own.
 */
interface ProposalRule {
  readonly action: string;
  readonly impact: 'low' | 'high';
  readonly pattern: RegExp;
  readonly describe: (match: RegExpExecArray) => {
    summary: string;
    parameters: Record<string, string | number>;
  };
}

const RULES: readonly ProposalRule[] = [
  {
    action: 'transfer_funds',
    impact: 'high',
    pattern: /\b(?:pay|transfer|send)\s+\$?(\d+(?:\.\d{1,2})?)\b/i,
    describe: (m) => ({ summary: `transfer ${m[1]}`, parameters: { amount: Number(m[1]) } }),
  },
  {
    action: 'send_external_message',
    impact: 'high',
    pattern: /\b(?:email|text|message)\s+(?:to\s+)?([\w.+-]+@[\w.-]+|[A-Z][a-z]+)\b/,
    describe: (m) => ({ summary: `message ${m[1]}`, parameters: { recipient: String(m[1]) } }),
  },
  {
    action: 'cancel_subscription',
    impact: 'high',
    pattern: /\bcancel\b[^.]*\bsubscription\b/i,
    describe: () => ({ summary: 'cancel a subscription', parameters: {} }),
  },
  // Host work on a site's worker (seed 004): high impact, so an approval always comes first;
  // the site parameter makes them worker actions (worker-delegation.ts).
  {
    action: 'collect_facts',
    impact: 'high',
    pattern: /\bcollect\s+(?:host\s+)?facts\s+(?:on|from|at)\s+(?:site\s+)?([a-z0-9][a-z0-9-]{0,31})\b/i,
    describe: (m) => ({
      summary: `collect host facts on site ${String(m[1]).toLowerCase()}`,
      parameters: { site: String(m[1]).toLowerCase() },
    }),
  },
  {
    action: 'run_script',
    impact: 'high',
    pattern:
      /\brun\s+(?:the\s+)?script\s+([A-Za-z0-9][A-Za-z0-9._-]{0,63})\s+(?:on|at)\s+(?:site\s+)?([a-z0-9][a-z0-9-]{0,31})\b/i,
    describe: (m) => ({
      summary: `run script ${m[1]} on site ${String(m[2]).toLowerCase()}`,
      parameters: { script: String(m[1]), site: String(m[2]).toLowerCase() },
    }),
  },
  {
    action: 'run_plugin',
    impact: 'high',
    pattern:
      /\brun\s+(?:the\s+)?plugin\s+([A-Za-z0-9][A-Za-z0-9._-]{0,63})\s+(?:on|at)\s+(?:site\s+)?([a-z0-9][a-z0-9-]{0,31})\b/i,
    describe: (m) => ({
      summary: `run plugin ${m[1]} on site ${String(m[2]).toLowerCase()}`,
      parameters: { plugin: String(m[1]), site: String(m[2]).toLowerCase() },
    }),
  },
  {
    action: 'create_reminder',
    impact: 'low',
    pattern: /\bremind me\b/i,
    describe: () => ({ summary: 'create a reminder', parameters: {} }),
  },
  {
    action: 'categorize_transactions',
    impact: 'low',
    pattern: /\bcategori[sz]e\b/i,
    describe: () => ({ summary: 'categorize recent transactions', parameters: {} }),
  },
];

/**
 * Proposed actions for a message, in rule order; at most one per rule.
 *
 * @example
 * deriveProposals('please pay 120 to the plumber'); // [{ action: 'transfer_funds', impact: 'high', ... }]
 */
export function deriveProposals(text: string): ProposedAction[] {
  const proposals: ProposedAction[] = [];
  for (const rule of RULES) {
    const match = rule.pattern.exec(text);
    if (match) proposals.push({ action: rule.action, impact: rule.impact, ...rule.describe(match) });
  }
  return proposals;
}

/** Approval ids are derived from the command, so a retried command requests the same approval. */
export function approvalIdFor(commandId: string, proposalIndex: number): string {
  return `apr-${createHash('sha256').update(`${commandId}:${proposalIndex}`).digest('hex').slice(0, 24)}`;
}

export const APPROVAL_ID_PATTERN = /^apr-[0-9a-f]{24}$/;
