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
    readonly key: string;
    readonly commandId: string;
    readonly correlationId: string;
    readonly requestHash: string;
    readonly now: Date;
  }): Promise<ClaimClientKeyResult>;
}
