import { z } from 'zod';

/**
 * The `github` block of cdk.json's `runlane` context: the GitHub repository whose Actions
 * workflows deploy Runlane. Present, it adds the `Runlane-github-deploy` stack (the GitHub
 * OIDC provider and the deploy roles, see `lib/deploy/github-deploy-role.ts`); absent, there is no such
 * stack. Validated with the rest of the `runlane` context, so errors name the field path, e.g.
 * `github.repository`.
 *
 * With this block every environment must name its own `account` (distinct accounts): a deploy
 * role may assume the `cdk bootstrap` roles of its environment's account, so environments sharing
 * an account would share their deploy rights (dev's role could deploy prod).
 *
 * The roles trust a GitHub OIDC token by its `sub` claim, customized on the repository to carry
 * the repository id and the branch (see {@link GITHUB_OIDC_SUBJECT_CLAIM_KEYS}), e.g.
 * `repo:acme/runlane:repository_id:123456789:environment:prod:ref:refs/heads/main`: AWS IAM cannot
 * test GitHub's other claims (`repository_id`, `ref`) as condition keys, only `sub` and `aud`.
 *
 * @example
 * "github": { "repository": "acme/runlane", "repositoryId": "123456789", "branches": { "dev": ["main", "dev/*"] } }
 */

/** Issuer host of GitHub Actions' OIDC tokens (the IAM provider's URL without `https://`). */
export const GITHUB_OIDC_HOST = 'token.actions.githubusercontent.com';
/** Audience `aws-actions/configure-aws-credentials` asks GitHub for. */
export const GITHUB_OIDC_AUDIENCE = 'sts.amazonaws.com';
/** Qualifier of the default `cdk bootstrap` (the `hnb659fds` in `cdk-hnb659fds-deploy-role-…`). */
export const DEFAULT_BOOTSTRAP_QUALIFIER = 'hnb659fds';

/**
 * The repository's OIDC subject template (`include_claim_keys`), set once by a repository admin:
 *
 *     gh api -X PUT repos/<owner>/<name>/actions/oidc/customization/sub \
 *       --input - <<< '{"use_default":false,"include_claim_keys":["repo","repository_id","context","ref"]}'
 *
 * A job's token then has `sub` = `repo:<owner>/<name>:repository_id:<id>:<context>:ref:<ref>`,
 * where `<context>` is `environment:<env>` for a job in a GitHub environment and `pull_request`
 * for a pull request job. The repository id pins the repository itself: a repository deleted and
 * re-created (or renamed and re-registered) under the same name gets a new id, and no role trusts it.
 */
export const GITHUB_OIDC_SUBJECT_CLAIM_KEYS = ['repo', 'repository_id', 'context', 'ref'] as const;

/** Branches an environment's deploy role accepts when `github.branches` leaves it out. */
export const DEFAULT_DEPLOY_BRANCHES = ['main'] as const;

/** A branch name, or a pattern of them with `*` (IAM StringLike), as in `refs/heads/<it>`. */
const branchSchema = z
  .string()
  .regex(
    /^(?!\/)(?!.*\/\/)(?!.*\.\.)[A-Za-z0-9._*/-]{1,200}(?<!\/)$/,
    'must be a branch name such as main or a pattern such as release/* (letters, digits, ., _, -, / and *)',
  );

const branchListSchema = z.array(branchSchema).min(1, 'must name at least one branch');

/**
 * The branches each environment deploys from: the trust of `runlane-github-deploy-<env>` accepts
 * a token only from a job of that GitHub environment running on one of them (`ref` in the
 * subject). Keep them in step with the environments' deployment branch rules on GitHub.
 */
const deployBranchesSchema = z
  .object({
    dev: branchListSchema.default([...DEFAULT_DEPLOY_BRANCHES]),
    staging: branchListSchema.default([...DEFAULT_DEPLOY_BRANCHES]),
    prod: branchListSchema.default([...DEFAULT_DEPLOY_BRANCHES]),
  })
  .strict();

export const githubDeploySchema = z
  .object({
    /**
     * `owner/name` of the repository, with GitHub's spelling: the trust conditions compare the
     * token's `sub` claim (`repo:owner/name:environment:prod`) case-sensitively.
     */
    repository: z
      .string()
      .regex(
        /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})\/[A-Za-z0-9._-]{1,100}$/,
        'must be a GitHub repository as "owner/name", e.g. acme/runlane',
      ),
    /**
     * The repository's numeric id (`gh api repos/<owner>/<name> --jq .id`), pinned in every
     * trust condition through the customized subject ({@link GITHUB_OIDC_SUBJECT_CLAIM_KEYS}).
     */
    repositoryId: z
      .union([z.string(), z.number()])
      .transform(String)
      .pipe(z.string().regex(/^[1-9]\d{0,19}$/, 'must be the numeric id of the GitHub repository')),
    /** Branches each environment deploys from (default: main for each). */
    branches: deployBranchesSchema.default(deployBranchesSchema.parse({})),
    /**
     * ARN of the account's existing GitHub OIDC provider. An account holds one provider per
     * issuer URL, so set this when one already exists; without it the stack creates one.
     */
    oidcProviderArn: z
      .string()
      .regex(
        /^arn:aws[a-z-]*:iam::\d{12}:oidc-provider\/token\.actions\.githubusercontent\.com$/,
        'must be the ARN of an IAM OIDC provider for token.actions.githubusercontent.com',
      )
      .optional(),
    /** `cdk bootstrap --qualifier` of the target accounts; the roles may only assume its roles. */
    bootstrapQualifier: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,10}$/, 'must be a cdk bootstrap qualifier (1-10 of A-Z, a-z, 0-9, _ and -)')
      .default(DEFAULT_BOOTSTRAP_QUALIFIER),
    /**
     * Also create the diff role trusted by `pull_request` jobs of the repository (`cdk diff
     * --method template`): it may read the Runlane stacks' templates (CloudFormation
     * DescribeStacks and GetTemplate on `Runlane-<env>` only) and assume the environments'
     * bootstrap lookup roles, nothing else. Those lookup roles are the target accounts' own: a
     * default `cdk bootstrap` gives them ReadOnlyAccess (minus KMS decrypt) in their account, and
     * any branch pushed to the repository can run a pull_request workflow. Set false where that
     * read access is too much (or bootstrap the target accounts so their lookup roles trust only
     * what should diff).
     */
    pullRequestDiff: z.boolean().default(true),
  })
  .strict();

export type GithubDeployConfig = z.infer<typeof githubDeploySchema>;

/** A configuration problem of the `github` block's targets, with its field path. */
export interface DeployTargetIssue {
  readonly path: readonly (string | number)[];
  readonly message: string;
}

/**
 * With GitHub deploy roles, each environment must name an account of its own: checked when the
 * `runlane` context is parsed (errors name `environments.<env>.account`) and again by the deploy
 * stack. Without `github`, nothing is required.
 *
 * @example
 * githubDeployTargetIssues({ dev: { account: '111111111111' }, prod: { account: '111111111111' } }, github);
 * // [{ path: ['environments', 'prod', 'account'], message: '… also dev's account …' }]
 */
export function githubDeployTargetIssues(
  environments: Readonly<Record<string, { readonly account?: string | undefined }>>,
  github: GithubDeployConfig | undefined,
): DeployTargetIssue[] {
  if (!github) return [];
  const issues: DeployTargetIssue[] = [];
  const owners = new Map<string, string>();
  for (const [name, environment] of Object.entries(environments)) {
    const path = ['environments', name, 'account'];
    if (environment.account === undefined) {
      issues.push({
        path,
        message:
          'is required with github deploy roles: each environment deploys to an account of its own, so one environment’s deploy role cannot deploy another',
      });
      continue;
    }
    const owner = owners.get(environment.account);
    if (owner !== undefined) {
      issues.push({
        path,
        message: `${environment.account} is also ${owner}'s account: with github deploy roles each environment needs its own account (a role that may deploy one could deploy the other)`,
      });
      continue;
    }
    owners.set(environment.account, name);
  }
  return issues;
}
