/** What the soak sent and what the stack acknowledged: the list the final check goes through. */
import type { AnyKind } from './plan.js';

/** One command the stack accepted (an API 2xx, or a producer send SQS acknowledged). */
export interface AcceptedCommand {
  /** The envelope's commandId; for poison, the token found in its body. */
  readonly commandId: string;
  readonly kind: AnyKind;
  readonly via: 'api' | 'producer';
  /** Poison has no run: it must be in a lane DLQ with its reason. */
  readonly poison: boolean;
  /** Keyed API requests: the Idempotency-Key. */
  readonly clientKey?: string;
  /** Approval decisions: the approval decided. */
  readonly approvalId?: string;
  readonly decision?: 'approve' | 'reject';
  /** Messages whose text proposes a high-impact action (an approval request follows). */
  readonly highImpact?: boolean;
}

export interface SendCounts {
  /** Planned commands whose sending started. */
  sent: number;
  /** HTTP requests and SQS sends made, retries and duplicate copies included. */
  requests: number;
  /** Extra copies of one envelope a producer delivered (duplicates). */
  duplicateCopies: number;
  /** Extra requests with the same Idempotency-Key (client retries). */
  clientRetries: number;
  /** API answers 4xx (the command was refused, not accepted). */
  refused: number;
  /** Requests that got no 2xx and were given up (no key to retry with, or out of time). */
  unacknowledged: number;
  /** API answers 5xx, each (a keyed request retries after one). */
  serverErrors: number;
  /** High-impact messages whose approval decision was not sent (the message never completed in time). */
  decisionsSkipped: number;
}

/** Everything the driver recorded. */
export class Ledger {
  readonly accepted = new Map<string, AcceptedCommand>();
  /** Idempotency-Key → the distinct commandIds its 2xx answers named (more than one is a duplicate). */
  readonly clientKeys = new Map<string, Set<string>>();
  readonly counts: SendCounts = {
    sent: 0,
    requests: 0,
    duplicateCopies: 0,
    clientRetries: 0,
    refused: 0,
    unacknowledged: 0,
    serverErrors: 0,
    decisionsSkipped: 0,
  };
  /** A few examples of what went wrong while sending, for the report. */
  readonly sendErrors: string[] = [];

  public accept(command: AcceptedCommand): void {
    if (!this.accepted.has(command.commandId)) this.accepted.set(command.commandId, command);
    if (command.clientKey !== undefined) {
      const ids = this.clientKeys.get(command.clientKey) ?? new Set<string>();
      ids.add(command.commandId);
      this.clientKeys.set(command.clientKey, ids);
    }
  }

  public noteError(error: string): void {
    if (this.sendErrors.length < 10) this.sendErrors.push(error);
  }
}
