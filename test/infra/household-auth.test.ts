/**
 * Who may call which route, as deployed: the JWT authorizer on household routes in every
 * environment (the stack's Cognito user pool unless `auth.jwt` names an issuer), IAM on operator
 * and worker routes, per-group throttles, and the configuration behind them (field-path errors).
 */
import { readFileSync } from 'node:fs';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { API_ROUTES, ROUTE_GROUP_AUTH } from '#contracts/api-routes.js';
import { DEFAULT_JWT_CLAIMS } from '#contracts/identity.js';
import { RUNTIME_ENV } from '#contracts/runtime-env.js';
import { HouseholdAuth } from '#lib/api/household-auth.js';
import { ENVIRONMENT_NAMES, parseRunlaneConfig } from '#lib/config/environment-config.js';
import { createRunlaneStacks } from '#lib/runlane-app.js';
import { RunlaneStack } from '#lib/runlane-stack.js';
import {
  configError,
  environmentConfig,
  rawConfig,
  TEST_REGION,
  testApp,
  testStack,
  thrownMessage,
} from './support.js';

type Resources = Record<string, { Properties: Record<string, unknown>; DeletionPolicy?: string }>;
type RouteProperties = { RouteKey: string; AuthorizationType?: string; AuthorizerId?: unknown };

const CDK_JSON = JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')) as {
  context: { runlane: unknown };
};

function routesByKey(template: Template): Record<string, RouteProperties> {
  return Object.fromEntries(
    Object.values(template.findResources('AWS::ApiGatewayV2::Route') as Resources).map((route) => [
      (route.Properties as RouteProperties).RouteKey,
      route.Properties as RouteProperties,
    ]),
  );
}

function apiVariables(template: Template): Record<string, unknown> {
  const functions = Object.values(template.findResources('AWS::Lambda::Function') as Resources);
  const api = functions.find((fn) => String(fn.Properties.Description ?? '').endsWith('command API'));
  return (api?.Properties.Environment as { Variables: Record<string, unknown> } | undefined)?.Variables ?? {};
}

describe('every environment of the repository cdk.json', () => {
  const templates = new Map<string, Template>();

  beforeAll(() => {
    const app = testApp({ context: { runlane: CDK_JSON.context.runlane } });
    for (const stack of createRunlaneStacks(app)) templates.set(stack.stackName, Template.fromStack(stack));
  });

  it('puts the JWT authorizer on every household route and IAM on every operator and worker route', () => {
    expect([...templates.keys()]).toEqual(ENVIRONMENT_NAMES.map((name) => `Runlane-${name}`));
    for (const [name, template] of templates) {
      const authorizers = template.findResources('AWS::ApiGatewayV2::Authorizer') as Resources;
      expect(Object.keys(authorizers), name).toHaveLength(1);
      const [authorizerId, authorizer] = Object.entries(authorizers)[0] ?? [];
      expect(authorizer?.Properties).toMatchObject({
        AuthorizerType: 'JWT',
        IdentitySource: ['$request.header.Authorization'],
      });
      const byKey = routesByKey(template);
      expect(Object.keys(byKey), name).toHaveLength(Object.keys(API_ROUTES).length);
      for (const route of Object.values(API_ROUTES)) {
        const key = `${route.method} ${route.path}`;
        if (ROUTE_GROUP_AUTH[route.group] === 'jwt') {
          expect(byKey[key], `${name} ${key}`).toMatchObject({
            AuthorizationType: 'JWT',
            AuthorizerId: { Ref: authorizerId },
          });
        } else {
          expect(byKey[key]?.AuthorizationType, `${name} ${key}`).toBe('AWS_IAM');
        }
      }
    }
  });

  it('creates a Cognito user pool and app client and trusts them, and outputs them', () => {
    for (const [name, template] of templates) {
      template.resourceCountIs('AWS::Cognito::UserPool', 1);
      template.resourceCountIs('AWS::Cognito::UserPoolClient', 1);
      const [poolId] = Object.keys(template.findResources('AWS::Cognito::UserPool'));
      const [clientId] = Object.keys(template.findResources('AWS::Cognito::UserPoolClient'));
      const [authorizer] = Object.values(
        template.findResources('AWS::ApiGatewayV2::Authorizer') as Resources,
      );
      const jwt = authorizer?.Properties.JwtConfiguration as { Issuer: unknown; Audience: unknown };
      expect(jwt.Audience, name).toEqual([{ Ref: clientId }]);
      expect(jwt.Issuer, name).toEqual({
        'Fn::Join': [
          '',
          [`https://cognito-idp.${TEST_REGION}.`, { Ref: 'AWS::URLSuffix' }, '/', { Ref: poolId }],
        ],
      });
      const outputs = template.toJSON().Outputs as Record<string, { Value: unknown }>;
      expect(outputs.UserPoolId?.Value, name).toEqual({ Ref: poolId });
      expect(outputs.UserPoolClientId?.Value, name).toEqual({ Ref: clientId });
      expect(outputs.JwtIssuer?.Value, name).toEqual(jwt.Issuer);
    }
  });

  it('throttles each route by its group with the configured limits', () => {
    const config = parseRunlaneConfig(CDK_JSON.context.runlane);
    for (const environment of ENVIRONMENT_NAMES) {
      const template = templates.get(`Runlane-${environment}`) as Template;
      const throttling = config.environments[environment].api.throttling;
      template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
        RouteSettings: Object.fromEntries(
          Object.values(API_ROUTES).map((route) => [
            `${route.method} ${route.path}`,
            {
              ThrottlingRateLimit: throttling[route.group].rateLimit,
              ThrottlingBurstLimit: throttling[route.group].burstLimit,
            },
          ]),
        ),
      });
    }
    // The repository's prod gives household users more than operators.
    const prod = config.environments.prod.api.throttling;
    expect(prod.household.rateLimit).toBeGreaterThan(prod.operator.rateLimit);
  });

  it('gives the api function the authorization mode, the claim names and the clock skew', () => {
    for (const [name, template] of templates) {
      expect(apiVariables(template), name).toMatchObject({
        [RUNTIME_ENV.apiAuthorization]: 'iam',
        [RUNTIME_ENV.jwtHouseholdClaim]: DEFAULT_JWT_CLAIMS.household,
        [RUNTIME_ENV.jwtRoleClaim]: DEFAULT_JWT_CLAIMS.role,
        [RUNTIME_ENV.workerClockSkewSeconds]: '300',
      });
    }
  });

  it('keeps the prod user pool (retained, deletion-protected) and lets dev delete its own', () => {
    const prodPool = Object.values(
      templates.get('Runlane-prod')?.findResources('AWS::Cognito::UserPool') as Resources,
    )[0];
    expect(prodPool?.DeletionPolicy).toBe('Retain');
    expect(prodPool?.Properties.DeletionProtection).toBe('ACTIVE');
    const devPool = Object.values(
      templates.get('Runlane-dev')?.findResources('AWS::Cognito::UserPool') as Resources,
    )[0];
    expect(devPool?.DeletionPolicy).toBe('Delete');
    expect(devPool?.Properties.DeletionProtection).toBe('INACTIVE');
  });
});

describe('the stack’s Cognito user pool', () => {
  let template: Template;

  beforeAll(() => {
    const stack = testStack();
    new HouseholdAuth(stack, 'Auth', { environmentName: 'test' });
    template = Template.fromStack(stack);
  });

  it('has no self sign-up, signs in by email, holds household and role as custom attributes, requires MFA and strong passwords', () => {
    template.hasResourceProperties('AWS::Cognito::UserPool', {
      UserPoolName: 'runlane-test-households',
      AdminCreateUserConfig: { AllowAdminCreateUserOnly: true },
      UsernameAttributes: ['email'],
      MfaConfiguration: 'ON',
      EnabledMfas: ['SOFTWARE_TOKEN_MFA'],
      UserPoolTier: 'PLUS',
      UserPoolAddOns: { AdvancedSecurityMode: 'ENFORCED' },
      Policies: {
        PasswordPolicy: Match.objectLike({
          MinimumLength: 12,
          RequireLowercase: true,
          RequireUppercase: true,
          RequireNumbers: true,
          RequireSymbols: true,
        }),
      },
      Schema: Match.arrayWith([
        Match.objectLike({ Name: 'household', AttributeDataType: 'String' }),
        Match.objectLike({ Name: 'runlane_role', AttributeDataType: 'String' }),
      ]),
    });
  });

  it('gives the app client no secret, SRP and password auth, read access to the custom attributes and no write access to them', () => {
    const clients = Object.values(template.findResources('AWS::Cognito::UserPoolClient') as Resources);
    expect(clients).toHaveLength(1);
    const client = clients[0]?.Properties ?? {};
    expect(client.GenerateSecret).toBe(false);
    expect(client.ExplicitAuthFlows).toEqual(
      expect.arrayContaining(['ALLOW_USER_SRP_AUTH', 'ALLOW_USER_PASSWORD_AUTH', 'ALLOW_REFRESH_TOKEN_AUTH']),
    );
    expect(client.AllowedOAuthFlowsUserPoolClient).toBe(false);
    expect(client.ReadAttributes).toEqual(
      expect.arrayContaining(['custom:household', 'custom:runlane_role']),
    );
    // Listed explicitly: with no WriteAttributes Cognito lets the client write every attribute.
    const writable = client.WriteAttributes as string[];
    expect(writable.length).toBeGreaterThan(0);
    expect(writable.filter((attribute) => attribute.startsWith('custom:'))).toEqual([]);
  });

  it('names the claims the API reads after the custom attributes', () => {
    expect(DEFAULT_JWT_CLAIMS).toEqual({ household: 'custom:household', role: 'custom:runlane_role' });
  });
});

describe('an external issuer (auth.jwt)', () => {
  it('is trusted instead: no user pool, the issuer and audiences on the authorizer, the claims for the API', () => {
    const stack = new RunlaneStack(testApp(), 'Runlane-staging', {
      environmentName: 'staging',
      config: environmentConfig({
        auth: {
          jwt: {
            issuer: 'https://login.example.com/',
            audience: ['household-app', 'household-web'],
            householdClaim: 'https://example.com/household',
            roleClaim: 'https://example.com/role',
          },
        },
      }),
      env: { region: TEST_REGION },
    });
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::Cognito::UserPool', 0);
    template.resourceCountIs('AWS::Cognito::UserPoolClient', 0);
    template.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', {
      AuthorizerType: 'JWT',
      JwtConfiguration: {
        Issuer: 'https://login.example.com/',
        Audience: ['household-app', 'household-web'],
      },
    });
    expect(apiVariables(template)).toMatchObject({
      [RUNTIME_ENV.jwtHouseholdClaim]: 'https://example.com/household',
      [RUNTIME_ENV.jwtRoleClaim]: 'https://example.com/role',
    });
    const outputs = template.toJSON().Outputs as Record<string, { Value: unknown }>;
    expect(outputs.JwtIssuer?.Value).toBe('https://login.example.com/');
    expect(outputs.UserPoolId).toBeUndefined();
    expect(outputs.UserPoolClientId).toBeUndefined();
  });

  it('needs both issuer and audience in the construct too', () => {
    expect(
      thrownMessage(
        () =>
          new HouseholdAuth(testStack(), 'Auth', { environmentName: 'test', issuer: 'https://x.example/' }),
      ),
    ).toContain('issuer, audience: set both');
  });
});

describe('auth and api configuration', () => {
  it('defaults to the stack’s user pool, the default claims and per-group throttles', () => {
    const env = parseRunlaneConfig(rawConfig()).environments.dev;
    expect(env.auth.jwt).toEqual({
      householdClaim: 'custom:household',
      roleClaim: 'custom:runlane_role',
    });
    expect(env.api.throttling).toEqual({
      household: { rateLimit: 50, burstLimit: 100 },
      operator: { rateLimit: 10, burstLimit: 20 },
      worker: { rateLimit: 50, burstLimit: 100 },
    });
    expect(env.api).not.toHaveProperty('throttlingRateLimit');
  });

  it('refuses api.authorization none for prod, naming the field path, and allows it elsewhere', () => {
    const error = configError(rawConfig({ prod: { api: { authorization: 'none' } } }));
    expect(error.issues.map((issue) => issue.fieldPath)).toEqual(['environments.prod.api.authorization']);
    expect(error.message).toContain('environments.prod.api.authorization: must be "iam" in prod');
    expect(
      parseRunlaneConfig(rawConfig({ dev: { api: { authorization: 'none' } } })).environments.dev.api
        .authorization,
    ).toBe('none');
  });

  it('refuses issuer without audience (and the reverse), a non-https issuer and equal claim names', () => {
    const error = configError(
      rawConfig({
        dev: { auth: { jwt: { issuer: 'https://login.example.com/' } } },
        staging: { auth: { jwt: { audience: ['app'], householdClaim: 'x', roleClaim: 'x' } } },
        prod: { auth: { jwt: { issuer: 'http://login.example.com/', audience: [] } } },
      }),
    );
    expect(error.issues.map((issue) => issue.fieldPath).sort()).toEqual([
      'environments.dev.auth.jwt.audience',
      'environments.prod.auth.jwt.audience',
      'environments.prod.auth.jwt.issuer',
      'environments.staging.auth.jwt.issuer',
      'environments.staging.auth.jwt.roleClaim',
    ]);
    expect(error.message).toContain('environments.dev.auth.jwt.audience: is required with issuer');
    expect(error.message).toContain('environments.prod.auth.jwt.issuer: must be an https URL');
    expect(error.message).toContain(
      'environments.staging.auth.jwt.roleClaim: must differ from householdClaim',
    );
  });

  it('refuses bad throttles and the replaced stage-wide fields, naming each field path', () => {
    const error = configError(
      rawConfig({
        dev: { api: { throttling: { household: { rateLimit: 0, burstLimit: 1.5 }, workers: {} } } },
        staging: { api: { throttling: { operator: { rateLimit: 5 } } } },
        prod: { api: { throttlingRateLimit: 200, throttlingBurstLimit: 400 } },
      }),
    );
    expect(error.issues.map((issue) => issue.fieldPath).sort()).toEqual([
      'environments.dev.api.throttling',
      'environments.dev.api.throttling.household.burstLimit',
      'environments.dev.api.throttling.household.rateLimit',
      'environments.prod.api.throttlingBurstLimit',
      'environments.prod.api.throttlingRateLimit',
      'environments.staging.api.throttling.operator.burstLimit',
    ]);
    expect(error.message).toContain(
      'environments.prod.api.throttlingRateLimit: was replaced by per-route-group throttles: set throttling.household.rateLimit',
    );
  });
});
