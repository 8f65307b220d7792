import { z } from 'zod';

/**
 * The `github` block of cdk.json's `runlane` context: the GitHub repository whose Actions
 * workflows deploy Runlane. Present, it adds the `Runlane-github-deploy` stack (the GitHub
 * OIDC provider and the deploy roles, see `lib/deploy/github-deploy-role.ts`); absent, there is no such
 * stack. Validated with the rest of the `runlane` context, so errors name the field path, e.g.
 * `github.repository`.
 *
 * @example
 * "github": { "repository": "acme/runlane" }
 */

/** Issuer host of GitHub Actions' OIDC tokens (the IAM provider's URL without `https://`). */
export const GITHUB_OIDC_HOST = 'token.actions.githubusercontent.com';
/** Audience `aws-actions/configure-aws-credentials` asks GitHub for. */
export const GITHUB_OIDC_AUDIENCE = 'sts.amazonaws.com';
/** Qualifier of the default `cdk bootstrap` (the `hnb659fds` in `cdk-hnb659fds-deploy-role-…`). */
export const DEFAULT_BOOTSTRAP_QUALIFIER = 'hnb659fds';

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
     * Also create the read-only diff role trusted by `pull_request` workflows (`cdk diff
     * --method template` through the bootstrap lookup roles). The lookup role carries AWS's
     * ReadOnlyAccess, and any branch pushed to the repository can run a pull_request workflow:
     * set false where that read access is too much.
     */
    pullRequestDiff: z.boolean().default(true),
  })
  .strict();

export type GithubDeployConfig = z.infer<typeof githubDeploySchema>;
