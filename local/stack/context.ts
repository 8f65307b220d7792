/**
 * What every subsystem of a starting local stack is handed: the options, the emulators' clients,
 * telemetry, the stack's own logger and the shutdown list to register its stop step on.
 */
import type { StructuredLogger } from '#adapters/powertools/structured-logger.js';
import type { StackClients } from './emulators.js';
import type { LocalStackOptions } from './options.js';
import type { StackShutdown } from './shutdown.js';
import type { StackTelemetry } from './telemetry.js';

export interface StackContext {
  readonly options: LocalStackOptions;
  readonly clients: StackClients;
  readonly telemetry: StackTelemetry;
  /** The `runlane-local` logger: the stack's own messages (delivery failures, schedules). */
  readonly log: StructuredLogger;
  readonly shutdown: StackShutdown;
}
