import { AWS_CREDENTIAL_ENV } from '#common/worker-config.js';

/**
 * The explicit environment of a child the agent starts (a worker's script, a supervised child):
 * only the `inherit` variables of the agent's own environment, the AWS credential variables when
 * `awsCredentials` is set, then `extra` laid over them. Nothing else of the agent's environment
 * (its credentials above all) reaches the child.
 *
 * @example
 * childEnvironment(process.env, { inherit: ['PATH', 'HOME'], awsCredentials: false, extra: { LOG_ROOT: '/var/log' } });
 */
export function childEnvironment(
  source: Readonly<Record<string, string | undefined>>,
  options: {
    readonly inherit: readonly string[];
    readonly awsCredentials: boolean;
    readonly extra?: Readonly<Record<string, string>>;
  },
): Record<string, string> {
  const env: Record<string, string> = {};
  const names = options.awsCredentials ? [...options.inherit, ...AWS_CREDENTIAL_ENV] : options.inherit;
  for (const name of names) {
    const value = source[name];
    if (value !== undefined) env[name] = value;
  }
  return Object.assign(env, options.extra);
}
