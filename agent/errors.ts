/** Base class for errors `runlane-agent` raises on purpose. */
export class AgentError extends Error {
  public constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'AgentError';
  }
}

/** The command line could not be understood; `runlane-agent` exits 2 and prints usage. */
export class AgentUsageError extends AgentError {
  public constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'AgentUsageError';
  }
}

import type { ConfigIssue } from '#common/config-issues.js';

/** `config/runner.json`, an environment override or a flag is invalid; every problem is listed. */
export class RunnerConfigError extends AgentError {
  public constructor(
    public readonly source: string,
    public readonly issues: readonly ConfigIssue[],
    options?: ErrorOptions,
  ) {
    super(
      `invalid runner configuration (${source}):\n${issues.map((i) => `  - ${i.fieldPath}: ${i.message}`).join('\n')}`,
      options,
    );
    this.name = 'RunnerConfigError';
  }
}

/** The command could not be started (not found, not executable…); `code` is the errno code. */
export class CommandSpawnError extends AgentError {
  public constructor(
    public readonly command: string,
    public readonly code: string | undefined,
    options?: ErrorOptions,
  ) {
    super(`cannot start ${command}: ${code ?? 'unknown error'}`, options);
    this.name = 'CommandSpawnError';
  }
}

/** A stall event could not be appended to the evidence file. */
export class EvidenceWriteError extends AgentError {
  public constructor(
    public readonly file: string,
    options?: ErrorOptions,
  ) {
    super(`cannot append to evidence file ${file}`, options);
    this.name = 'EvidenceWriteError';
  }
}

/**
 * A host file or folder the agent relies on is not safe to use: a state, spool, evidence or
 * crash-report folder that is not the agent user's own with no group/other access, a config or
 * allowlist file writable by others, a spool folder another agent holds. The agent refuses to
 * start (exit 2), naming the path and what to do.
 */
export class HostFileError extends AgentError {
  public constructor(
    public readonly path: string,
    public readonly problem: string,
    options?: ErrorOptions,
  ) {
    super(`refusing to start: ${path} ${problem}`, options);
    this.name = 'HostFileError';
  }
}
