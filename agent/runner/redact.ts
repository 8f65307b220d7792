/**
 * Credential-looking strings removed from text that leaves the host (stall evidence lines, a
 * supervised child's exit reason, a script's stdout/stderr in a worker result). Each match is
 * replaced by `[REDACTED]`; for `name=value` forms the name is kept, so a reader still sees
 * what was there:
 *
 * - AWS access key ids: `AKIA…` / `ASIA…` (and the other IAM unique-id prefixes), 20 characters;
 * - the value after `aws_secret_access_key`, `SecretAccessKey`, `aws_session_token`,
 *   `SessionToken`, `x-amz-security-token` (`=`, `:` or JSON `":"`, quoted or not);
 * - `Authorization: <anything>` (Bearer, Basic, AWS4-HMAC-SHA256 …) and a bare `Bearer <token>`;
 * - `password=` / `passwd:` / `pwd=` / `secret=` / `api_key=` / `access_token=` … values;
 * - PEM private key blocks.
 *
 * A pattern list, not a guarantee: it catches the usual shapes of leaked credentials, not a
 * secret printed with no name next to it.
 *
 * @example
 * redactSecrets('export AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY');
 * // 'export AWS_SECRET_ACCESS_KEY=[REDACTED]'
 */
export function redactSecrets(text: string): string {
  let out = text;
  for (const [pattern, replacement] of RULES) out = out.replace(pattern, replacement);
  return out;
}

/** {@link redactSecrets} of every line. */
export function redactLines(lines: readonly string[]): string[] {
  return lines.map(redactSecrets);
}

export const REDACTED = '[REDACTED]';

/** `name` then `=`, `:` or `":"` (JSON), optional quotes and spaces: group 1 keeps it. */
const assignment = (names: string): string => `((?:${names})["']?\\s*[:=]\\s*["']?)`;

const RULES: readonly (readonly [RegExp, string])[] = [
  [/-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|$)/g, REDACTED],
  // Authorization header values (to the end of the line or the closing quote).
  [new RegExp(`${assignment('\\b(?:proxy-)?authorization')}[^\\r\\n"']+`, 'gi'), `$1${REDACTED}`],
  [/\b(bearer\s+)[A-Za-z0-9._~+/=-]{8,}/gi, `$1${REDACTED}`],
  // AWS secret keys and session tokens, by the names they are printed under.
  [
    new RegExp(
      `${assignment('aws_?secret_?access_?key|secret_?access_?key|aws_?session_?token|session_?token|x-amz-security-token')}[A-Za-z0-9/+=%]{16,}`,
      'gi',
    ),
    `$1${REDACTED}`,
  ],
  // X-Amz-Security-Token / X-Amz-Credential in a presigned URL's query string.
  [/((?:x-amz-security-token|x-amz-credential|x-amz-signature)=)[^\s&"']+/gi, `$1${REDACTED}`],
  // Passwords and other named secrets.
  [
    new RegExp(
      `${assignment('\\b(?:password|passwd|pwd|passphrase|client_?secret|api_?key|apikey|access_?token|auth_?token|refresh_?token|private_?key)')}[^\\s"'&,;]+`,
      'gi',
    ),
    `$1${REDACTED}`,
  ],
  // Access key ids (long-term AKIA, temporary ASIA, and the other IAM unique-id prefixes).
  [/\b(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AIPA|ANPA|ANVA|APKA|AROA|ASCA)[A-Z0-9]{16}\b/g, REDACTED],
];
