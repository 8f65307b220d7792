import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { HttpJwtAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import * as cognito from 'aws-cdk-lib/aws-cognito';
import { Construct } from 'constructs';
import { DEFAULT_JWT_CLAIMS } from '#contracts/identity.js';
import { namePrefixFor } from '../defaults.js';
import { throwIfProblems } from '../errors.js';

/** The custom attributes of the stack's user pool; their claims are `custom:<name>` (`DEFAULT_JWT_CLAIMS`). */
export const HOUSEHOLD_USER_ATTRIBUTES = {
  household: 'household',
  role: 'runlane_role',
} as const;

/** Where a JWT's identity source is read from: the `Authorization: Bearer <jwt>` header. */
export const JWT_IDENTITY_SOURCE = '$request.header.Authorization';

export interface HouseholdAuthProps {
  /** Runlane environment name: the user pool's and client's names. */
  readonly environmentName: string;
  /**
   * An external issuer (`iss`) to trust, with `audience`; both or neither. Neither: a Cognito
   * user pool and app client are created and trusted.
   */
  readonly issuer?: string;
  /** Audiences (`aud`, or `client_id` of an access token) accepted from `issuer`. */
  readonly audience?: readonly string[];
  /** @default DEFAULT_JWT_CLAIMS.household (`custom:household`) */
  readonly householdClaim?: string;
  /** @default DEFAULT_JWT_CLAIMS.role (`custom:runlane_role`) */
  readonly roleClaim?: string;
  /**
   * Keep the created user pool (its users) when the stack is deleted, with Cognito's deletion
   * protection on.
   * @default true
   */
  readonly retainOnDelete?: boolean;
}

/**
 * Who household users are (DESIGN §7): the JWT authorizer of the household routes, and — when no
 * external issuer is configured (`auth.jwt` in cdk.json) — the Cognito user pool that issues their
 * tokens, so `cdk deploy` works out of the box.
 *
 * The created user pool:
 * - no self sign-up: an administrator creates each user (`admin-create-user`) and sets their
 *   `custom:household` and `custom:runlane_role` (`approver` or `member`);
 * - sign-in with the email address; strong passwords (12+ characters, all four classes),
 *   TOTP MFA required, account recovery by email only;
 * - Plus feature plan with threat protection enforced (compromised credentials, adaptive auth);
 * - `retainOnDelete`: retained on stack deletion and deletion-protected.
 *
 * Its app client: no secret (a public app), SRP and user-password auth, no OAuth (no hosted
 * domain), user-existence errors hidden, 1-hour tokens. It may read the custom attributes but
 * write only email and name: a user cannot give themselves another household or the approver
 * role. The household routes take the ID token (the custom attributes are in it, not in the
 * access token); API Gateway checks its `aud` against the client id.
 *
 * @example
 * const auth = new HouseholdAuth(this, 'HouseholdAuth', { environmentName: 'dev' });
 * httpApi.addRoutes({ path, methods, integration, authorizer: auth.authorizer });
 */
export class HouseholdAuth extends Construct {
  /** The JWT authorizer for the household routes (identity source: the Authorization header). */
  public readonly authorizer: HttpJwtAuthorizer;
  /** The trusted issuer URL. */
  public readonly issuer: string;
  /** The accepted audiences. */
  public readonly audience: readonly string[];
  public readonly householdClaim: string;
  public readonly roleClaim: string;
  /** The created user pool; undefined with an external issuer. */
  public readonly userPool: cognito.UserPool | undefined;
  /** The created app client; undefined with an external issuer. */
  public readonly userPoolClient: cognito.UserPoolClient | undefined;

  public constructor(scope: Construct, id: string, props: HouseholdAuthProps) {
    super(scope, id);
    this.householdClaim = props.householdClaim ?? DEFAULT_JWT_CLAIMS.household;
    this.roleClaim = props.roleClaim ?? DEFAULT_JWT_CLAIMS.role;
    checkProps(props, this);

    if (props.issuer !== undefined && props.audience !== undefined) {
      this.userPool = undefined;
      this.userPoolClient = undefined;
      this.issuer = props.issuer;
      this.audience = [...props.audience];
    } else {
      const retain = props.retainOnDelete ?? true;
      const prefix = namePrefixFor(props.environmentName);
      this.userPool = new cognito.UserPool(this, 'UserPool', {
        userPoolName: `${prefix}-households`,
        selfSignUpEnabled: false,
        signInAliases: { email: true },
        signInCaseSensitive: false,
        autoVerify: { email: true },
        keepOriginal: { email: true },
        standardAttributes: { email: { required: true, mutable: true } },
        customAttributes: {
          [HOUSEHOLD_USER_ATTRIBUTES.household]: new cognito.StringAttribute({
            minLen: 1,
            maxLen: 128,
            mutable: true,
          }),
          [HOUSEHOLD_USER_ATTRIBUTES.role]: new cognito.StringAttribute({
            minLen: 1,
            maxLen: 32,
            mutable: true,
          }),
        },
        passwordPolicy: {
          minLength: 12,
          requireLowercase: true,
          requireUppercase: true,
          requireDigits: true,
          requireSymbols: true,
          tempPasswordValidity: Duration.days(3),
        },
        mfa: cognito.Mfa.REQUIRED,
        mfaSecondFactor: { otp: true, sms: false },
        accountRecovery: cognito.AccountRecovery.EMAIL_ONLY,
        featurePlan: cognito.FeaturePlan.PLUS,
        standardThreatProtectionMode: cognito.StandardThreatProtectionMode.FULL_FUNCTION,
        deletionProtection: retain,
        removalPolicy: retain ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
      });
      this.userPoolClient = this.userPool.addClient('AppClient', {
        userPoolClientName: `${prefix}-household-app`,
        generateSecret: false,
        authFlows: { userSrp: true, userPassword: true },
        disableOAuth: true,
        preventUserExistenceErrors: true,
        enableTokenRevocation: true,
        idTokenValidity: Duration.hours(1),
        accessTokenValidity: Duration.hours(1),
        refreshTokenValidity: Duration.days(30),
        readAttributes: new cognito.ClientAttributes()
          .withStandardAttributes({ email: true, emailVerified: true, fullname: true })
          .withCustomAttributes(HOUSEHOLD_USER_ATTRIBUTES.household, HOUSEHOLD_USER_ATTRIBUTES.role),
        // Explicit, so the custom attributes are not writable: Cognito lets a client write every
        // attribute when none are listed. Email is required, so the client must be able to write it.
        writeAttributes: new cognito.ClientAttributes().withStandardAttributes({
          email: true,
          fullname: true,
        }),
      });
      // The `iss` of the pool's tokens (as HttpUserPoolAuthorizer builds it).
      const stack = Stack.of(this);
      this.issuer = `https://cognito-idp.${stack.region}.${stack.urlSuffix}/${this.userPool.userPoolId}`;
      this.audience = [this.userPoolClient.userPoolClientId];
    }

    this.authorizer = new HttpJwtAuthorizer('HouseholdJwt', this.issuer, {
      authorizerName: `${namePrefixFor(props.environmentName)}-household-jwt`,
      identitySource: [JWT_IDENTITY_SOURCE],
      jwtAudience: [...this.audience],
    });
  }
}

function checkProps(
  props: HouseholdAuthProps,
  claims: { readonly householdClaim: string; readonly roleClaim: string },
): void {
  const problems: string[] = [];
  if ((props.issuer === undefined) !== (props.audience === undefined)) {
    problems.push(
      'issuer, audience: set both to trust an external issuer, or neither for a Cognito user pool',
    );
  }
  if (props.issuer !== undefined && !/^https:\/\/[^\s/]+/.test(props.issuer)) {
    problems.push(`issuer: must be an https URL, got ${props.issuer}`);
  }
  if (props.audience !== undefined && (props.audience.length === 0 || props.audience.some((a) => !a))) {
    problems.push('audience: at least one, none empty');
  }
  if (!claims.householdClaim || !claims.roleClaim || claims.householdClaim === claims.roleClaim) {
    problems.push(
      `householdClaim, roleClaim: two different non-empty claim names, got "${claims.householdClaim}" and "${claims.roleClaim}"`,
    );
  }
  throwIfProblems('HouseholdAuth', problems);
}
