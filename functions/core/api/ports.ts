export type ClaimClientKeyResult =
  | { readonly outcome: 'claimed' }
  | {
      readonly outcome: 'exists';
      readonly commandId: string;
      readonly correlationId: string;
      readonly requestHash: string;
    };

/** Client `Idempotency-Key` header → the commandId it produced. */
export interface ClientKeyStore {
  claim(input: {
    readonly key: string;
    readonly commandId: string;
    readonly correlationId: string;
    readonly requestHash: string;
    readonly now: Date;
  }): Promise<ClaimClientKeyResult>;
  /** Undo a claim whose command could not be enqueued, so the client's retry enqueues it. */
  release(key: string, commandId: string): Promise<void>;
}
