import { type App, Stack, Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import { beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, parseRunlaneConfig } from '#lib/config/environment-config.js';
import {
  DIFF_ROLE_NAME,
  deployRoleNameFor,
  GITHUB_DEPLOY_STACK_NAME,
  GithubDeployRoleStack,
} from '#lib/deploy/github-deploy-role.js';
import { RunlaneChecks } from '#lib/nag.js';
import { createRunlaneStacks, stackNameFor } from '#lib/runlane-app.js';
import { configError, rawConfig, TEST_REGION, testApp } from './support.js';

const REPOSITORY = 'acme/runlane';
const REPOSITORY_ID = '123456789';
const DEV_ACCOUNT = '111111111111';
const STAGING_ACCOUNT = '222222222222';
const PROD_ACCOUNT = '210987654321';
const ACCOUNTS = { dev: DEV_ACCOUNT, staging: STAGING_ACCOUNT, prod: PROD_ACCOUNT } as const;
const REGIONS = { dev: TEST_REGION, staging: TEST_REGION, prod: 'eu-west-1' } as const;
const SUBJECT = `repo:${REPOSITORY}:repository_id:${REPOSITORY_ID}`;
const EXISTING_PROVIDER =
  'arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com' as const;

type Json = Record<string, unknown>;

/** The `runlane` context with a `github` block; each environment in an account of its own, prod in another region. */
function contextWith(
  github: Record<string, unknown>,
  accounts: Record<string, string | undefined> = ACCOUNTS,
): Record<string, unknown> {
  const target = (name: 'dev' | 'staging' | 'prod') => ({
    region: REGIONS[name],
    ...(accounts[name] !== undefined ? { account: accounts[name] } : {}),
  });
  return {
    ...rawConfig({ dev: target('dev'), staging: target('staging'), prod: target('prod') }),
    github: { repository: REPOSITORY, repositoryId: REPOSITORY_ID, ...github },
  };
}

function deployStack(github: Record<string, unknown> = {}, app: App = testApp()): GithubDeployRoleStack {
  const config = parseRunlaneConfig(contextWith(github));
  if (!config.github) throw new Error('expected a github block');
  return new GithubDeployRoleStack(app, GITHUB_DEPLOY_STACK_NAME, {
    github: config.github,
    environments: config.environments,
    env: { region: TEST_REGION },
  });
}

/** A resolved value as text: `Fn::Join` joined, `Ref` as `<Name>`, so ARNs read as written. */
function render(value: unknown): string {
  if (typeof value === 'string') return value;
  const record = value as Json;
  const join = record['Fn::Join'] as [string, unknown[]] | undefined;
  if (join) return join[1].map(render).join(join[0]);
  if ('Ref' in record) return `<${String(record.Ref)}>`;
  if ('Fn::GetAtt' in record) return `<${(record['Fn::GetAtt'] as string[]).join('.')}>`;
  return JSON.stringify(value);
}

function roleNamed(template: Template, roleName: string): Json {
  const roles = Object.values(
    template.findResources('AWS::IAM::Role', { Properties: { RoleName: roleName } }),
  );
  expect(roles, roleName).toHaveLength(1);
  return (roles[0] as { Properties: Json }).Properties;
}

/** Every statement of a role's inline policies, with its resources rendered. */
function statementsOf(role: Json): { Effect: string; Action: unknown; Resource: string[] }[] {
  return ((role.Policies ?? []) as { PolicyDocument: { Statement: Json[] } }[]).flatMap((policy) =>
    policy.PolicyDocument.Statement.map((statement) => ({
      Effect: String(statement.Effect),
      Action: statement.Action,
      Resource: ([] as unknown[]).concat(statement.Resource).map(render),
    })),
  );
}

function bootstrapArn(kind: string, account: string, region: string, qualifier = 'hnb659fds'): string {
  return `arn:<AWS::Partition>:iam::${account}:role/cdk-${qualifier}-${kind}-role-${account}-${region}`;
}

describe('GithubDeployRoleStack', () => {
  let template: Template;

  beforeAll(() => {
    template = Template.fromStack(deployStack());
  });

  it('creates the GitHub OIDC provider with audience sts.amazonaws.com', () => {
    template.resourceCountIs('AWS::IAM::OIDCProvider', 1);
    template.hasResourceProperties('AWS::IAM::OIDCProvider', {
      Url: 'https://token.actions.githubusercontent.com',
      ClientIdList: ['sts.amazonaws.com'],
    });
  });

  it('trusts, per environment, only tokens of that GitHub environment of the repository (by name and id), on main', () => {
    for (const environmentName of ['dev', 'staging', 'prod'] as const) {
      const role = roleNamed(template, deployRoleNameFor(environmentName));
      expect(role.AssumeRolePolicyDocument).toEqual({
        Version: '2012-10-17',
        Statement: [
          {
            Effect: 'Allow',
            Action: 'sts:AssumeRoleWithWebIdentity',
            // Ref of an AWS::IAM::OIDCProvider is its ARN.
            Principal: { Federated: { Ref: expect.stringMatching(/^GithubOidcProvider/) } },
            Condition: {
              StringEquals: {
                'token.actions.githubusercontent.com:aud': 'sts.amazonaws.com',
                'token.actions.githubusercontent.com:sub': `${SUBJECT}:environment:${environmentName}:ref:refs/heads/main`,
              },
            },
          },
        ],
      });
      expect(role.MaxSessionDuration).toBe(3600);
    }
  });

  it('lets a deploy role do nothing but sts:AssumeRole on its environment’s bootstrap roles, in its own account', () => {
    for (const environmentName of ['dev', 'staging', 'prod'] as const) {
      expect(statementsOf(roleNamed(template, deployRoleNameFor(environmentName)))).toEqual([
        {
          Effect: 'Allow',
          Action: 'sts:AssumeRole',
          Resource: ['deploy', 'file-publishing', 'lookup'].map((kind) =>
            bootstrapArn(kind, ACCOUNTS[environmentName], REGIONS[environmentName]),
          ),
        },
      ]);
    }
    // No managed policies, no policy resources: the inline statement above is all they may do.
    for (const role of Object.values(template.findResources('AWS::IAM::Role'))) {
      expect((role as { Properties: Json }).Properties.ManagedPolicyArns).toBeUndefined();
    }
    template.resourceCountIs('AWS::IAM::Policy', 0);
    template.resourceCountIs('AWS::IAM::ManagedPolicy', 0);
  });

  it('has a diff role for pull requests that may only read the Runlane templates and assume the lookup roles', () => {
    const role = roleNamed(template, DIFF_ROLE_NAME);
    expect(role.AssumeRolePolicyDocument).toMatchObject({
      Statement: [
        {
          Action: 'sts:AssumeRoleWithWebIdentity',
          Condition: {
            StringEquals: { 'token.actions.githubusercontent.com:aud': 'sts.amazonaws.com' },
            StringLike: {
              'token.actions.githubusercontent.com:sub': `${SUBJECT}:pull_request:ref:refs/pull/*/merge`,
            },
          },
        },
      ],
    });
    expect(role.MaxSessionDuration).toBe(3600);
    expect(role.ManagedPolicyArns).toBeUndefined();
    expect(statementsOf(role)).toEqual([
      {
        Effect: 'Allow',
        Action: ['cloudformation:DescribeStacks', 'cloudformation:GetTemplate'],
        Resource: (['dev', 'staging', 'prod'] as const).map(
          (name) =>
            `arn:<AWS::Partition>:cloudformation:${REGIONS[name]}:${ACCOUNTS[name]}:stack/${stackNameFor(name)}/*`,
        ),
      },
      {
        Effect: 'Allow',
        Action: 'sts:AssumeRole',
        Resource: (['dev', 'staging', 'prod'] as const).map((name) =>
          bootstrapArn('lookup', ACCOUNTS[name], REGIONS[name]),
        ),
      },
    ]);
  });

  it('gives no role a managed policy (no ReadOnlyAccess), nor any action beyond STS and the template reads', () => {
    const roles = Object.values(template.findResources('AWS::IAM::Role')) as { Properties: Json }[];
    expect(roles).toHaveLength(4);
    for (const role of roles) {
      expect(role.Properties.ManagedPolicyArns).toBeUndefined();
      for (const statement of statementsOf(role.Properties)) {
        for (const action of ([] as unknown[]).concat(statement.Action)) {
          expect(['sts:AssumeRole', 'cloudformation:DescribeStacks', 'cloudformation:GetTemplate']).toContain(
            action,
          );
        }
      }
    }
    expect(JSON.stringify(template.toJSON())).not.toContain('ReadOnlyAccess');
  });

  it('lets dev deploy from the branches configured for it only', () => {
    const custom = Template.fromStack(deployStack({ branches: { dev: ['main', 'dev/*'] } }));
    expect(roleNamed(custom, deployRoleNameFor('dev')).AssumeRolePolicyDocument).toMatchObject({
      Statement: [
        {
          Condition: {
            StringEquals: { 'token.actions.githubusercontent.com:aud': 'sts.amazonaws.com' },
            StringLike: {
              'token.actions.githubusercontent.com:sub': [
                `${SUBJECT}:environment:dev:ref:refs/heads/main`,
                `${SUBJECT}:environment:dev:ref:refs/heads/dev/*`,
              ],
            },
          },
        },
      ],
    });
    // prod keeps its default: main only.
    expect(roleNamed(custom, deployRoleNameFor('prod')).AssumeRolePolicyDocument).toMatchObject({
      Statement: [
        {
          Condition: {
            StringEquals: {
              'token.actions.githubusercontent.com:sub': `${SUBJECT}:environment:prod:ref:refs/heads/main`,
            },
          },
        },
      ],
    });
  });

  it('outputs every role ARN for the GitHub variables', () => {
    const outputs = Object.keys(template.findOutputs('*'));
    expect(outputs).toEqual(
      expect.arrayContaining([
        'GithubOidcProviderArn',
        expect.stringMatching(/^DeployRoleArndev/),
        expect.stringMatching(/^DeployRoleArnstaging/),
        expect.stringMatching(/^DeployRoleArnprod/),
        'DiffRoleArn',
        'GithubOidcSubjectClaimKeys',
      ]),
    );
    expect(
      JSON.parse(
        String(template.findOutputs('GithubOidcSubjectClaimKeys').GithubOidcSubjectClaimKeys?.Value),
      ),
    ).toEqual({
      use_default: false,
      include_claim_keys: ['repo', 'repository_id', 'context', 'ref'],
    });
  });

  it('imports an existing provider instead of creating one, and honours the bootstrap qualifier', () => {
    const imported = Template.fromStack(
      deployStack({
        oidcProviderArn: EXISTING_PROVIDER,
        bootstrapQualifier: 'runlane1',
        pullRequestDiff: false,
      }),
    );
    imported.resourceCountIs('AWS::IAM::OIDCProvider', 0);
    const role = roleNamed(imported, deployRoleNameFor('staging'));
    expect(role.AssumeRolePolicyDocument).toMatchObject({
      Statement: [{ Principal: { Federated: EXISTING_PROVIDER } }],
    });
    expect(statementsOf(role)[0]?.Resource).toEqual(
      ['deploy', 'file-publishing', 'lookup'].map((kind) =>
        bootstrapArn(kind, STAGING_ACCOUNT, TEST_REGION, 'runlane1'),
      ),
    );
    // pullRequestDiff: false — no diff role.
    expect(
      Object.keys(imported.findResources('AWS::IAM::Role', { Properties: { RoleName: DIFF_ROLE_NAME } })),
    ).toEqual([]);
  });

  it('is cdk-nag clean, acknowledging only the stack-id wildcard of the three template reads', () => {
    const app = testApp();
    deployStack({}, app);
    const packs = [new AwsSolutionsChecks(), new ServerlessChecks(), new RunlaneChecks()];
    const violations = packs.flatMap((pack) =>
      pack
        .validateScope(app)
        .violations.flatMap((violation) =>
          violation.violatingResources.map((resource) => `${violation.ruleName} ${resource.constructPath}`),
        ),
    );
    expect(violations).toEqual([]);
    const acknowledged = app.node
      .findAll()
      .flatMap((construct) =>
        construct.node.metadata.filter((entry) => entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY),
      );
    expect(
      acknowledged
        .flatMap((entry) => Object.keys(entry.data as Record<string, string>))
        .map((id) => id.replace(/^Annotation::/, ''))
        .sort(),
    ).toEqual(
      (['prod', 'dev', 'staging'] as const).map(
        (name) =>
          `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:cloudformation:${REGIONS[name]}:${ACCOUNTS[name]}:stack/Runlane-${name}/*]`,
      ),
    );
  });
});

describe('the github block of cdk.json', () => {
  it('adds Runlane-github-deploy to the full app, and only then', () => {
    const withGithub = testApp({ context: { runlane: contextWith({}) } });
    createRunlaneStacks(withGithub);
    const names = withGithub.node.children.filter(Stack.isStack).map((stack) => stack.stackName);
    expect(names).toEqual(expect.arrayContaining([GITHUB_DEPLOY_STACK_NAME, 'Runlane-prod']));

    // `cdk deploy -c env=prod` must see one stack, not two.
    const oneEnvironment = testApp({ context: { runlane: contextWith({}), env: 'prod' } });
    createRunlaneStacks(oneEnvironment);
    expect(oneEnvironment.node.children.filter(Stack.isStack).map((stack) => stack.stackName)).toEqual([
      'Runlane-prod',
    ]);

    const withoutGithub = testApp({ context: { runlane: rawConfig() } });
    createRunlaneStacks(withoutGithub);
    expect(withoutGithub.node.children.filter(Stack.isStack).map((stack) => stack.stackName)).not.toContain(
      GITHUB_DEPLOY_STACK_NAME,
    );
  });

  it('defaults the bootstrap qualifier, the branches (main) and the pull request diff role', () => {
    expect(parseRunlaneConfig(contextWith({ repositoryId: 123456789 })).github).toEqual({
      repository: REPOSITORY,
      repositoryId: REPOSITORY_ID,
      branches: { dev: ['main'], staging: ['main'], prod: ['main'] },
      bootstrapQualifier: 'hnb659fds',
      pullRequestDiff: true,
    });
  });

  it('refuses environments without an account of their own, naming the field path', () => {
    const shared = configError(
      contextWith({}, { dev: DEV_ACCOUNT, staging: DEV_ACCOUNT, prod: DEV_ACCOUNT }),
    );
    expect(shared.issues.map((issue) => issue.fieldPath)).toEqual([
      'environments.staging.account',
      'environments.prod.account',
    ]);
    expect(shared.message).toContain(`environments.prod.account: ${DEV_ACCOUNT} is also dev's account`);
    const missing = configError(contextWith({}, { staging: STAGING_ACCOUNT, prod: PROD_ACCOUNT }));
    expect(missing.issues.map((issue) => issue.fieldPath)).toEqual(['environments.dev.account']);
    expect(missing.message).toContain('environments.dev.account: is required with github deploy roles');
    // Without github, environments may share an account (or name none).
    expect(() => parseRunlaneConfig(rawConfig())).not.toThrow();
    // The stack refuses them too when built directly.
    const config = parseRunlaneConfig(contextWith({}));
    const github = config.github;
    if (!github) throw new Error('expected a github block');
    expect(
      () =>
        new GithubDeployRoleStack(testApp(), GITHUB_DEPLOY_STACK_NAME, {
          github,
          environments: {
            ...config.environments,
            prod: { ...config.environments.prod, account: DEV_ACCOUNT },
          },
        }),
    ).toThrow(ConfigError);
  });

  it('names the field path of each problem', () => {
    const error = configError(
      contextWith({
        repository: 'https://github.com/acme/runlane',
        oidcProviderArn: 'arn:aws:iam::123456789012:oidc-provider/accounts.google.com',
        bootstrapQualifier: 'far-too-long-qualifier',
        repositoryId: 'acme',
        branches: { dev: [], prod: ['feature branch'] },
      }),
    );
    expect(error.issues.map((issue) => issue.fieldPath).sort()).toEqual([
      'github.bootstrapQualifier',
      'github.branches.dev',
      'github.branches.prod.0',
      'github.oidcProviderArn',
      'github.repository',
      'github.repositoryId',
    ]);
    expect(error.message).toContain('github.repository: must be a GitHub repository as "owner/name"');
  });

  it('rejects unknown fields and a missing repository or repository id', () => {
    const raw = { ...rawConfig(), github: { repo: REPOSITORY } };
    const issues = configError(raw).issues;
    expect(issues.map((issue) => issue.fieldPath).sort()).toEqual([
      'github',
      'github.repository',
      'github.repositoryId',
    ]);
    expect(issues.find((issue) => issue.fieldPath === 'github')?.message).toContain('repo');
  });
});
