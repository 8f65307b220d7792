/**
 * Local auth's public API (DESIGN §7): the auth folder with its JWT signing key and IAM
 * credentials, the local JWT issuer, and the checks the local gateway makes (JWT, SigV4, the
 * emulated IAM policies).
 */
export {
  ensureLocalAuth,
  LOCAL_ACCOUNT_ID,
  LOCAL_OPERATOR_ARN,
  type LocalAuth,
  localCredentials,
} from './auth-folder.js';
export { mayInvoke } from './iam-policy.js';
export {
  issueLocalToken,
  issueLocalTokenDetails,
  LOCAL_JWT_AUDIENCE,
  LOCAL_JWT_ISSUER,
  verifyLocalToken,
} from './jwt.js';
export { verifySignedRequest } from './sigv4.js';
