/**
 * The environment variables the runner reads, in a module of their own (no zod): the agent's
 * program definition names them as option fallbacks, and `--help` must not load the schemas.
 */

/** Environment variables that override the config (seed 002's emergency override). */
export const RUNNER_ENV = { idleMs: 'RUNNER_IDLE_MS', hardMs: 'RUNNER_HARD_MS' } as const;

/** Environment variable naming the bus, between the config and `--event-bus`. */
export const EVENT_BUS_ENV = 'RUNLANE_EVENT_BUS';
