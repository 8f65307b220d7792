import { type App, Tags } from 'aws-cdk-lib';
import {
  ENVIRONMENT_NAMES,
  type EnvironmentName,
  parseRunlaneConfig,
  type RunlaneConfig,
} from './config/environment-config.js';
import { GITHUB_DEPLOY_STACK_NAME, GithubDeployRoleStack } from './deploy/github-deploy-role.js';
import { UnknownEnvironmentError } from './errors.js';
import { RunlaneStack } from './runlane-stack.js';

/** Context key of the configuration in `cdk.json`. */
export const CONFIG_CONTEXT_KEY = 'runlane';
/** Context key that restricts the app to one environment: `cdk deploy -c env=prod`. */
export const ENVIRONMENT_CONTEXT_KEY = 'env';

/** Stack name (and construct id) of an environment, e.g. `Runlane-prod`. */
export function stackNameFor(environmentName: EnvironmentName): string {
  return `Runlane-${environmentName}`;
}

/**
 * The environments to synthesize: all of them, or only the one `-c env=<name>` names.
 * Throws {@link UnknownEnvironmentError} listing the valid names for anything else.
 */
export function selectEnvironments(requested: unknown): readonly EnvironmentName[] {
  if (requested === undefined || requested === null || requested === '') return ENVIRONMENT_NAMES;
  const name = String(requested);
  const match = ENVIRONMENT_NAMES.find((candidate) => candidate === name);
  if (!match) throw new UnknownEnvironmentError(name, ENVIRONMENT_NAMES);
  return [match];
}

/**
 * Creates one {@link RunlaneStack} per selected environment from the `runlane`
 * context (validated by `parseRunlaneConfig`, which throws `ConfigError`). With a `github`
 * block and no `-c env=<name>`, also the `Runlane-github-deploy` stack (GitHub OIDC deploy roles).
 *
 * @example
 * const app = new App();
 * const stacks = createRunlaneStacks(app); // Runlane-dev, Runlane-staging, Runlane-prod
 */
export function createRunlaneStacks(app: App): RunlaneStack[] {
  const config: RunlaneConfig = parseRunlaneConfig(app.node.tryGetContext(CONFIG_CONTEXT_KEY));
  const selected = selectEnvironments(app.node.tryGetContext(ENVIRONMENT_CONTEXT_KEY));
  // The deploy identity (cdk.json `github`) only in the full app: `-c env=<name>` stays one stack.
  if (config.github && selected.length === ENVIRONMENT_NAMES.length) {
    new GithubDeployRoleStack(app, GITHUB_DEPLOY_STACK_NAME, {
      github: config.github,
      environments: config.environments,
      env: { region: config.environments.dev.region },
    });
  }
  return selected.map((environmentName) => {
    const environment = config.environments[environmentName];
    const stack = new RunlaneStack(app, stackNameFor(environmentName), {
      stackName: stackNameFor(environmentName),
      environmentName,
      config: environment,
      env: {
        region: environment.region,
        ...(environment.account ? { account: environment.account } : {}),
      },
    });
    Tags.of(stack).add('runlane:environment', environmentName);
    return stack;
  });
}
