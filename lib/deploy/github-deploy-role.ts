import { ArnFormat, Aws, CfnOutput, Duration, Stack, type StackProps } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { Construct } from 'constructs';
import { ENVIRONMENT_NAMES, type EnvironmentName } from '../config/environment-config.js';
import { GITHUB_OIDC_AUDIENCE, GITHUB_OIDC_HOST, type GithubDeployConfig } from '../config/github-config.js';

/** Stack name (and construct id) of the deploy identity. */
export const GITHUB_DEPLOY_STACK_NAME = 'Runlane-github-deploy';

/**
 * The `cdk bootstrap` roles a deploy role may assume: `deploy` (CloudFormation change sets),
 * `file-publishing` (Lambda bundles to the staging bucket) and `lookup` (`cdk diff`, context
 * lookups). Not `image-publishing`: Runlane has no Docker image assets; add it here if it gets one.
 */
export const DEPLOY_BOOTSTRAP_ROLE_KINDS = ['deploy', 'file-publishing', 'lookup'] as const;
/** The one bootstrap role the read-only diff role may assume (`cdk diff --method template`). */
export const DIFF_BOOTSTRAP_ROLE_KINDS = ['lookup'] as const;
export type BootstrapRoleKind = (typeof DEPLOY_BOOTSTRAP_ROLE_KINDS)[number];

/** Longest session a GitHub job gets from a deploy or diff role: 1 hour. */
export const GITHUB_ROLE_MAX_SESSION = Duration.hours(1);

/** Name of an environment's deploy role, e.g. `runlane-github-deploy-prod` (the workflow's `AWS_DEPLOY_ROLE_ARN`). */
export function deployRoleNameFor(environmentName: EnvironmentName): string {
  return `runlane-github-deploy-${environmentName}`;
}

/** Name of the read-only diff role pull requests use (the workflow's `AWS_DIFF_ROLE_ARN`). */
export const DIFF_ROLE_NAME = 'runlane-github-diff';

/** The `sub` claim GitHub puts in the token of a job that runs in `environment: <name>`. */
export function environmentSubject(repository: string, environmentName: EnvironmentName): string {
  return `repo:${repository}:environment:${environmentName}`;
}

/** The `sub` claim of a job run by a `pull_request` event (no `environment:` on the job). */
export function pullRequestSubject(repository: string): string {
  return `repo:${repository}:pull_request`;
}

/** Where an environment's stack is deployed: the account (omitted: this stack's) and region. */
export interface DeployTarget {
  readonly account?: string;
  readonly region: string;
}

export interface GithubDeployRoleStackProps extends StackProps {
  /** The validated `github` block of the `runlane` context. */
  readonly github: GithubDeployConfig;
  /** Account and region of every environment (`config.environments`). */
  readonly environments: Readonly<Record<EnvironmentName, DeployTarget>>;
}

/**
 * The identity GitHub Actions deploys Runlane with, as code: no long-lived keys anywhere.
 *
 * - the IAM OIDC provider for `token.actions.githubusercontent.com` with audience
 *   `sts.amazonaws.com`, or the account's existing one (`github.oidcProviderArn`; an account
 *   holds one provider per issuer URL);
 * - per environment, role `runlane-github-deploy-<env>`: assumable with
 *   `sts:AssumeRoleWithWebIdentity` only by a token whose `aud` is `sts.amazonaws.com` and whose
 *   `sub` is exactly `repo:<owner>/<name>:environment:<env>`, i.e. a job of that repository
 *   running in the GitHub environment `<env>` (so prod's protection rules, its required
 *   reviewers, gate every use of the prod role); it may do one thing: `sts:AssumeRole` on that
 *   environment's `cdk bootstrap` deploy, file-publishing and lookup roles
 *   (`cdk-<qualifier>-<kind>-role-<account>-<region>`), which hold the real permissions;
 * - with `github.pullRequestDiff` (default), role `runlane-github-diff`: `sub`
 *   `repo:<owner>/<name>:pull_request`, may only assume the lookup roles (read-only), for
 *   `cdk diff --method template` on pull requests;
 * - every role: 1 h maximum session; outputs with each role's ARN.
 *
 * Deployed once with administrator credentials (`npx cdk deploy Runlane-github-deploy`), in the
 * account of the credentials and the dev environment's region (IAM is global). An environment
 * with an `account` of its own is reached cross-account: bootstrap that account with
 * `cdk bootstrap --trust <this account>`.
 *
 * @example
 * new GithubDeployRoleStack(app, GITHUB_DEPLOY_STACK_NAME, {
 *   github: config.github,
 *   environments: config.environments,
 *   env: { region: config.environments.dev.region },
 * });
 */
export class GithubDeployRoleStack extends Stack {
  /** The provider the roles trust (created here or imported). */
  public readonly provider: iam.IOidcProvider;
  /** `runlane-github-deploy-<env>` per environment. */
  public readonly deployRoles: Readonly<Record<EnvironmentName, iam.Role>>;
  /** `runlane-github-diff`, unless `pullRequestDiff` is false. */
  public readonly diffRole?: iam.Role;

  public constructor(scope: Construct, id: string, props: GithubDeployRoleStackProps) {
    const { github, environments, ...stackProps } = props;
    super(scope, id, {
      stackName: GITHUB_DEPLOY_STACK_NAME,
      description: `GitHub Actions OIDC deploy roles for ${github.repository} (Runlane)`,
      ...stackProps,
    });

    this.provider = github.oidcProviderArn
      ? iam.OidcProviderNative.fromOidcProviderArn(this, 'GithubOidcProvider', github.oidcProviderArn)
      : new iam.OidcProviderNative(this, 'GithubOidcProvider', {
          url: `https://${GITHUB_OIDC_HOST}`,
          clientIds: [GITHUB_OIDC_AUDIENCE],
        });
    new CfnOutput(this, 'GithubOidcProviderArn', { value: this.provider.oidcProviderArn });

    const deployRoles = {} as Record<EnvironmentName, iam.Role>;
    for (const environmentName of ENVIRONMENT_NAMES) {
      const role = this.githubRole(
        `DeployRole-${environmentName}`,
        deployRoleNameFor(environmentName),
        environmentSubject(github.repository, environmentName),
        DEPLOY_BOOTSTRAP_ROLE_KINDS.map((kind) =>
          this.bootstrapRoleArn(github.bootstrapQualifier, kind, environments[environmentName]),
        ),
        `Deploys Runlane-${environmentName} from GitHub environment "${environmentName}" of ${github.repository}`,
      );
      deployRoles[environmentName] = role;
      new CfnOutput(this, `DeployRoleArn-${environmentName}`, {
        value: role.roleArn,
        description: `vars.AWS_DEPLOY_ROLE_ARN of GitHub environment "${environmentName}"`,
      });
    }
    this.deployRoles = deployRoles;

    if (github.pullRequestDiff) {
      const lookupRoles = [
        ...new Set(
          ENVIRONMENT_NAMES.flatMap((environmentName) =>
            DIFF_BOOTSTRAP_ROLE_KINDS.map((kind) =>
              this.bootstrapRoleArn(github.bootstrapQualifier, kind, environments[environmentName]),
            ),
          ),
        ),
      ];
      this.diffRole = this.githubRole(
        'DiffRole',
        DIFF_ROLE_NAME,
        pullRequestSubject(github.repository),
        lookupRoles,
        `Read-only cdk diff of Runlane from pull requests of ${github.repository}`,
      );
      new CfnOutput(this, 'DiffRoleArn', {
        value: this.diffRole.roleArn,
        description: 'vars.AWS_DIFF_ROLE_ARN of the repository (pull request diffs)',
      });
    }
  }

  /** ARN of a `cdk bootstrap` role of an environment's account and region. */
  private bootstrapRoleArn(qualifier: string, kind: BootstrapRoleKind, target: DeployTarget): string {
    const account = target.account ?? Aws.ACCOUNT_ID;
    return this.formatArn({
      service: 'iam',
      region: '',
      account,
      resource: 'role',
      resourceName: `cdk-${qualifier}-${kind}-role-${account}-${target.region}`,
      arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
    });
  }

  /** A role only a GitHub token with this exact `sub` (and our audience) can assume; it may only assume `assumable`. */
  private githubRole(
    id: string,
    roleName: string,
    subject: string,
    assumable: readonly string[],
    description: string,
  ): iam.Role {
    return new iam.Role(this, id, {
      roleName,
      description,
      maxSessionDuration: GITHUB_ROLE_MAX_SESSION,
      assumedBy: new iam.OpenIdConnectPrincipal(this.provider, {
        StringEquals: {
          [`${GITHUB_OIDC_HOST}:aud`]: GITHUB_OIDC_AUDIENCE,
          [`${GITHUB_OIDC_HOST}:sub`]: subject,
        },
      }),
      inlinePolicies: {
        AssumeCdkBootstrapRoles: new iam.PolicyDocument({
          statements: [new iam.PolicyStatement({ actions: ['sts:AssumeRole'], resources: [...assumable] })],
        }),
      },
    });
  }
}
