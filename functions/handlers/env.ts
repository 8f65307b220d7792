import { RUNTIME_ENV, type RuntimeEnvKey } from '#contracts/runtime-env.js';

/** A required environment variable is missing or malformed. */
export class EnvironmentVariableError extends Error {
  public constructor(name: string, problem: string) {
    super(`environment variable ${name} ${problem}`);
    this.name = 'EnvironmentVariableError';
  }
}

/** Reads a required string variable once; throws with the variable's name. */
export function requireString(key: RuntimeEnvKey, env: NodeJS.ProcessEnv = process.env): string {
  const name = RUNTIME_ENV[key];
  const value = env[name];
  if (value === undefined || value.trim() === '') throw new EnvironmentVariableError(name, 'is not set');
  return value;
}

export function requireNumber(key: RuntimeEnvKey, env: NodeJS.ProcessEnv = process.env): number {
  const name = RUNTIME_ENV[key];
  const raw = requireString(key, env);
  const value = Number(raw);
  if (!Number.isFinite(value)) throw new EnvironmentVariableError(name, `must be a number, got "${raw}"`);
  return value;
}

export function optionalNumber(
  key: RuntimeEnvKey,
  fallback: number,
  env: NodeJS.ProcessEnv = process.env,
): number {
  return env[RUNTIME_ENV[key]] === undefined ? fallback : requireNumber(key, env);
}

export function requireJsonStringMap(
  key: RuntimeEnvKey,
  env: NodeJS.ProcessEnv = process.env,
): Record<string, string> {
  const name = RUNTIME_ENV[key];
  const raw = requireString(key, env);
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new EnvironmentVariableError(name, 'must be a JSON object');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new EnvironmentVariableError(name, 'must be a JSON object');
  }
  for (const [k, v] of Object.entries(parsed)) {
    if (typeof v !== 'string') throw new EnvironmentVariableError(name, `value of ${k} must be a string`);
  }
  return parsed as Record<string, string>;
}
