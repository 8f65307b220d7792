import { ArnFormat, CfnOutput, Duration, Stack, type StackProps, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { Construct } from 'constructs';
import { ConfigError, ENVIRONMENT_NAMES, type EnvironmentName } from '../config/environment-config.js';
import {
  GITHUB_OIDC_AUDIENCE,
  GITHUB_OIDC_HOST,
  GITHUB_OIDC_SUBJECT_CLAIM_KEYS,
  type GithubDeployConfig,
  githubDeployTargetIssues,
} from '../config/github-config.js';

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

/**
 * The `sub` claims a deploy role accepts: a job of the repository (name and id) running in the
 * GitHub environment `<name>` on one of the environment's branches, with the repository's
 * customized subject (`GITHUB_OIDC_SUBJECT_CLAIM_KEYS`).
 *
 * @example
 * environmentSubjects(github, 'dev');
 * // ['repo:acme/runlane:repository_id:123456789:environment:dev:ref:refs/heads/main']
 */
export function environmentSubjects(
  github: Pick<GithubDeployConfig, 'repository' | 'repositoryId' | 'branches'>,
  environmentName: EnvironmentName,
): string[] {
  return github.branches[environmentName].map(
    (branch) => `${repositorySubject(github)}:environment:${environmentName}:ref:refs/heads/${branch}`,
  );
}

/** The `sub` claim of a `pull_request` job of the repository (no `environment:`; ref `refs/pull/<n>/merge`). */
export function pullRequestSubject(github: Pick<GithubDeployConfig, 'repository' | 'repositoryId'>): string {
  return `${repositorySubject(github)}:pull_request:ref:refs/pull/*/merge`;
}

/** The first claims of every subject: `repo:<owner>/<name>:repository_id:<id>`. */
function repositorySubject(github: Pick<GithubDeployConfig, 'repository' | 'repositoryId'>): string {
  return `repo:${github.repository}:repository_id:${github.repositoryId}`;
}

/** Where an environment's stack is deployed: the account (required, one per environment) and region. */
export interface DeployTarget {
  readonly account?: string | undefined;
  readonly region: string;
}

export interface GithubDeployRoleStackProps extends StackProps {
  /** The validated `github` block of the `runlane` context. */
  readonly github: GithubDeployConfig;
  /** Account and region of every environment (`config.environments`): a distinct account each. */
  readonly environments: Readonly<Record<EnvironmentName, DeployTarget>>;
  /**
   * The name of an environment's Runlane stack: the diff role may read its template.
   * @default `Runlane-<env>` (runlane-app.ts `stackNameFor`)
   */
  readonly stackNameFor?: (environmentName: EnvironmentName) => string;
}

/**
 * The identity GitHub Actions deploys Runlane with, as code: no long-lived keys anywhere.
 *
 * - the IAM OIDC provider for `token.actions.githubusercontent.com` with audience
 *   `sts.amazonaws.com`, or the account's existing one (`github.oidcProviderArn`; an account
 *   holds one provider per issuer URL);
 * - per environment, role `runlane-github-deploy-<env>`: assumable with
 *   `sts:AssumeRoleWithWebIdentity` only by a token whose `aud` is `sts.amazonaws.com` and whose
 *   `sub` is `repo:<owner>/<name>:repository_id:<id>:environment:<env>:ref:refs/heads/<branch>`
 *   for one of `github.branches.<env>` (the repository's customized subject,
 *   `GITHUB_OIDC_SUBJECT_CLAIM_KEYS`): a job of that repository — that very repository, by id —
 *   running in the GitHub environment `<env>` (so prod's protection rules, its required
 *   reviewers, gate every use of the prod role) on one of the environment's branches (so a
 *   feature branch cannot deploy dev unless dev lists it). It may do one thing: `sts:AssumeRole`
 *   on that environment's `cdk bootstrap` deploy, file-publishing and lookup roles
 *   (`cdk-<qualifier>-<kind>-role-<account>-<region>`), which hold the real permissions. Each
 *   environment names its own account (refused otherwise, with the field path), so no
 *   environment's role reaches another's bootstrap roles;
 * - with `github.pullRequestDiff` (default), role `runlane-github-diff`: `sub`
 *   `repo:<owner>/<name>:repository_id:<id>:pull_request:ref:refs/pull/*\/merge`; for `cdk diff
 *   --method template` it may read the Runlane stacks' templates (`cloudformation:DescribeStacks`,
 *   `cloudformation:GetTemplate` on `Runlane-<env>` in each environment's account and region)
 *   and assume the environments' bootstrap lookup roles, nothing else — no managed policy;
 * - every role: 1 h maximum session; outputs with each role's ARN and the subject claim keys to
 *   set on the repository.
 *
 * Deployed once with administrator credentials (`npx cdk deploy Runlane-github-deploy`), in the
 * account of the credentials (a tooling account, or one of the environments') and the dev
 * environment's region (IAM is global). Each environment's account trusts it for its bootstrap
 * roles: `cdk bootstrap aws://<account>/<region> --trust <this account>` (deploy roles), or
 * `--trust-for-lookup <this account>` where only diffs should reach.
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
    const { github, environments, stackNameFor, ...stackProps } = props;
    const issues = githubDeployTargetIssues(environments, github);
    if (issues.length > 0) {
      throw new ConfigError(
        issues.map((issue) => ({ fieldPath: issue.path.join('.'), message: issue.message })),
      );
    }
    super(scope, id, {
      stackName: GITHUB_DEPLOY_STACK_NAME,
      description: `GitHub Actions OIDC deploy roles for ${github.repository} (Runlane)`,
      ...stackProps,
    });
    const runlaneStackName =
      stackNameFor ?? ((environmentName: EnvironmentName) => `Runlane-${environmentName}`);

    this.provider = github.oidcProviderArn
      ? iam.OidcProviderNative.fromOidcProviderArn(this, 'GithubOidcProvider', github.oidcProviderArn)
      : new iam.OidcProviderNative(this, 'GithubOidcProvider', {
          url: `https://${GITHUB_OIDC_HOST}`,
          clientIds: [GITHUB_OIDC_AUDIENCE],
        });
    new CfnOutput(this, 'GithubOidcProviderArn', { value: this.provider.oidcProviderArn });
    new CfnOutput(this, 'GithubOidcSubjectClaimKeys', {
      value: JSON.stringify({ use_default: false, include_claim_keys: GITHUB_OIDC_SUBJECT_CLAIM_KEYS }),
      description: `Set on the repository: gh api -X PUT repos/${github.repository}/actions/oidc/customization/sub --input - <<< '<this value>'`,
    });

    const deployRoles = {} as Record<EnvironmentName, iam.Role>;
    for (const environmentName of ENVIRONMENT_NAMES) {
      const role = this.githubRole(
        `DeployRole-${environmentName}`,
        deployRoleNameFor(environmentName),
        environmentSubjects(github, environmentName),
        [
          new iam.PolicyStatement({
            sid: 'AssumeCdkBootstrapRoles',
            actions: ['sts:AssumeRole'],
            resources: DEPLOY_BOOTSTRAP_ROLE_KINDS.map((kind) =>
              this.bootstrapRoleArn(github.bootstrapQualifier, kind, environments[environmentName]),
            ),
          }),
        ],
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
      const stackArns = ENVIRONMENT_NAMES.map((environmentName) =>
        this.runlaneStackArn(runlaneStackName(environmentName), environments[environmentName]),
      );
      this.diffRole = this.githubRole(
        'DiffRole',
        DIFF_ROLE_NAME,
        [pullRequestSubject(github)],
        [
          // `cdk diff --method template` reads the deployed template: with the lookup role where
          // it can assume it, else with these credentials (a stack in this role's own account).
          new iam.PolicyStatement({
            sid: 'ReadRunlaneTemplates',
            actions: ['cloudformation:DescribeStacks', 'cloudformation:GetTemplate'],
            resources: stackArns,
          }),
          new iam.PolicyStatement({
            sid: 'AssumeCdkLookupRoles',
            actions: ['sts:AssumeRole'],
            resources: lookupRoles,
          }),
        ],
        `cdk diff of Runlane from pull requests of ${github.repository}: reads the Runlane stacks' templates`,
      );
      // cdk-nag names the resource as written, with the partition as <AWS::Partition>.
      Validations.of(this.diffRole).acknowledge(
        ...ENVIRONMENT_NAMES.map((environmentName) => {
          const target = environments[environmentName];
          return {
            id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:cloudformation:${target.region}:${requiredAccount(target)}:stack/${runlaneStackName(environmentName)}/*]`,
            reason:
              'A stack ARN ends with the id CloudFormation gives the stack when it is created (stack/<name>/<id>); the wildcard stands for that id only, so the statement covers the one named Runlane stack, whichever its current id.',
          };
        }),
      );
      new CfnOutput(this, 'DiffRoleArn', {
        value: this.diffRole.roleArn,
        description: 'vars.AWS_DIFF_ROLE_ARN of the repository (pull request diffs)',
      });
    }
  }

  /** ARN of a `cdk bootstrap` role of an environment's account and region. */
  private bootstrapRoleArn(qualifier: string, kind: BootstrapRoleKind, target: DeployTarget): string {
    const account = requiredAccount(target);
    return this.formatArn({
      service: 'iam',
      region: '',
      account,
      resource: 'role',
      resourceName: `cdk-${qualifier}-${kind}-role-${account}-${target.region}`,
      arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
    });
  }

  /** ARN of an environment's Runlane stack, whatever its id: `…:stack/<name>/*`. */
  private runlaneStackArn(stackName: string, target: DeployTarget): string {
    return this.formatArn({
      service: 'cloudformation',
      region: target.region,
      account: requiredAccount(target),
      resource: 'stack',
      resourceName: `${stackName}/*`,
      arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
    });
  }

  /** A role only a GitHub token with one of these `sub` claims (and our audience) can assume; it may do only `statements`. */
  private githubRole(
    id: string,
    roleName: string,
    subjects: readonly string[],
    statements: readonly iam.PolicyStatement[],
    description: string,
  ): iam.Role {
    const patterned = subjects.some((subject) => /[*?]/.test(subject));
    return new iam.Role(this, id, {
      roleName,
      description,
      maxSessionDuration: GITHUB_ROLE_MAX_SESSION,
      assumedBy: new iam.OpenIdConnectPrincipal(this.provider, {
        StringEquals: {
          [`${GITHUB_OIDC_HOST}:aud`]: GITHUB_OIDC_AUDIENCE,
          ...(patterned ? {} : { [`${GITHUB_OIDC_HOST}:sub`]: oneOrMany(subjects) }),
        },
        ...(patterned ? { StringLike: { [`${GITHUB_OIDC_HOST}:sub`]: oneOrMany(subjects) } } : {}),
      }),
      inlinePolicies: {
        [roleName === DIFF_ROLE_NAME ? 'CdkDiff' : 'AssumeCdkBootstrapRoles']: new iam.PolicyDocument({
          statements: [...statements],
        }),
      },
    });
  }
}

/** An environment's account; the constructor refused a missing one already. */
function requiredAccount(target: DeployTarget): string {
  if (target.account === undefined) throw new Error('GithubDeployRoleStack: an environment has no account');
  return target.account;
}

function oneOrMany(values: readonly string[]): string | string[] {
  return values.length === 1 ? (values[0] as string) : [...values];
}
