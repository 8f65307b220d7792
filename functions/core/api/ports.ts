export type ClaimClientKeyResult =
  | { readonly outcome: 'claimed' }
  | {
      readonly outcome: 'exists';
      readonly commandId: string;
      readonly correlationId: string;
      readonly requestHash: string;
      /** When the key was claimed: the `issuedAt` of the envelope it names. */
      readonly claimedAt: string;
    };

/**
 * Client `Idempotency-Key` header → the command it produced. A claimed key is never released:
 * it does not say the command was queued, only which command the key names. A retry that finds
 * it makes sure that command is on its lane before it answers (command-api.ts).
 */
export interface ClientKeyStore {
  claim(input: {
    /**
     * The key's stored name: a digest of the caller's scope and the header (command-api.ts), never
     * the header as sent, so no caller can reach another's key.
     */
    readonly key: string;
    readonly commandId: string;
    readonly correlationId: string;
    readonly requestHash: string;
    readonly now: Date;
  }): Promise<ClaimClientKeyResult>;
}

/** What the API reads of an approval request before it accepts a decision on it. */
export interface ApprovalLocation {
  readonly householdId: string;
  readonly conversationId: string;
}

/**
 * Approval requests as the API reads them (adapter: `DynamoDbApprovalStore.getApproval`): the
 * household and conversation an approval belongs to, so a decision names the right ones.
 */
export interface ApprovalReader {
  /** `undefined` when no such approval was requested. */
  getApproval(approvalId: string): Promise<ApprovalLocation | undefined>;
}
