import type { CommandEnvelope } from '#contracts/envelope.js';

export interface SendResult {
  readonly messageId: string;
}

/** Enqueues commands on their lane. */
export interface CommandQueue {
  send(envelope: CommandEnvelope): Promise<SendResult>;
}

export interface DeadLetterMessage {
  readonly lane: string;
  /** The original body, unchanged, so a replay can rebuild the command. */
  readonly body: string;
  readonly reason: string;
  readonly rationale: string;
  readonly sourceMessageId: string;
  readonly receiveCount: number;
  readonly commandId?: string;
  readonly correlationId?: string;
}

/** The lane's DLQ, written by the worker so every dead letter carries its reason. */
export interface DeadLetterSink {
  send(message: DeadLetterMessage): Promise<void>;
}

/** The lane's own queue, as the worker that received a message sees it. */
export interface LaneMessageVisibility {
  /** Hides a received message for `seconds` from now (SQS ChangeMessageVisibility). */
  hideFor(receiptHandle: string, seconds: number): Promise<void>;
}

/** A lane's dead-letter queue as the replay drill and `runlane dlq` read it. */
export interface DeadLetterQueue {
  /** Receives up to `max` messages, hidden for `visibilitySeconds` (0 = peek and restore at once). */
  receive(max: number, visibilitySeconds: number): Promise<DeadLetterMessageRead[]>;
  /** Makes a received message visible again, so a peek burns nothing but a receive count. */
  restore(receiptHandle: string): Promise<void>;
  delete(receiptHandle: string): Promise<void>;
}

export interface DeadLetterMessageRead {
  readonly messageId: string;
  readonly receiptHandle: string;
  readonly body: string;
  readonly attributes: Readonly<Record<string, string>>;
  readonly receiveCount: number;
  readonly sentAt: number;
}
