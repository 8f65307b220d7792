import type { EventPattern } from './event-pattern.js';

/**
 * EventBridge rules on the telemetry bus, declared once for the CDK stack and
 * the local bus. Empty until the agent-event ingest issues add their rules
 * (stall events, heartbeats, result envelopes); the nightly sweep is a
 * schedule, not a pattern rule.
 */
export interface EventRuleDefinition {
  readonly name: string;
  readonly description: string;
  readonly pattern: EventPattern;
}

export const EVENT_RULES: readonly EventRuleDefinition[] = [];
