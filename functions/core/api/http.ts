import type * as z from 'zod';
import type { ZodType } from 'zod';
import { ApiRequestError, type FieldIssue } from './api-errors.js';
import type { AuthorizedCaller, Caller } from './caller.js';

/**
 * Request and response helpers shared by the command API and the worker API: JSON bodies with
 * a content type and a size limit, zod validation with field paths, and the error shape
 * `{ error, fieldPath, message, issues }`.
 */
export interface ApiRequest {
  readonly method: string;
  readonly path: string;
  /** Header names in lower case. */
  readonly headers: Readonly<Record<string, string | undefined>>;
  readonly query: Readonly<Record<string, string | undefined>>;
  readonly body?: string;
  readonly requestId: string;
  /** Who is calling, as API Gateway's authorizer proved it (`callerOf`); never read from the body. */
  readonly caller: Caller;
}

/** A route's handler: the request, its decoded path parameters and the caller the route allowed. */
export type RouteHandler = (
  request: ApiRequest,
  params: Record<string, string>,
  caller: AuthorizedCaller,
) => Promise<ApiResponse>;

export interface ApiResponse {
  readonly statusCode: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

/** The body as JSON, or a 415 / 413 / 400 naming what was wrong. */
export function readJson(request: ApiRequest, maxBodyBytes: number): unknown {
  const contentType = request.headers['content-type']?.split(';')[0]?.trim().toLowerCase();
  if (contentType !== 'application/json') {
    throw ApiRequestError.single(
      415,
      'unsupported_media_type',
      'headers.content-type',
      'must be application/json',
    );
  }
  const body = request.body ?? '';
  if (Buffer.byteLength(body, 'utf8') > maxBodyBytes) {
    throw ApiRequestError.single(413, 'body_too_large', 'body', `at most ${maxBodyBytes} bytes`);
  }
  try {
    return JSON.parse(body);
  } catch (error) {
    throw ApiRequestError.single(400, 'invalid_json', 'body', (error as Error).message);
  }
}

/** `value` checked against `schema`; a 400 `code` listing every issue by field path otherwise. */
export function validate<S extends ZodType>(
  schema: S,
  value: unknown,
  root: string,
  code = 'validation_failed',
): z.infer<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issues: FieldIssue[] = result.error.issues.flatMap((issue) => {
    const base = [root, ...issue.path.map(String)].join('.');
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => ({ fieldPath: `${base}.${key}`, message: 'unknown field' }));
    }
    return [{ fieldPath: base, message: issue.message }];
  });
  throw new ApiRequestError(400, code, issues);
}

/**
 * A path segment percent-decoded; a 400 at `path` when its encoding is malformed (`%zz`, `%e0%a4`).
 */
export function decodePathSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw ApiRequestError.single(400, 'validation_failed', 'path', 'malformed percent-encoding in the path');
  }
}

export function pathParam(params: Record<string, string>, name: string, pattern: RegExp): string {
  const value = params[name] ?? '';
  if (!pattern.test(value))
    throw ApiRequestError.single(400, 'validation_failed', `path.${name}`, `malformed ${name}`);
  return value;
}

/** The client error body; `extra` adds fields (e.g. `claimedBy`) next to the standard ones. */
export function clientError(error: ApiRequestError, extra: Record<string, unknown> = {}): ApiResponse {
  const first = error.issues[0];
  return json(error.statusCode, {
    error: error.code,
    fieldPath: first?.fieldPath ?? '',
    message: first?.message ?? error.message,
    issues: error.issues,
    ...extra,
  });
}

export function json(statusCode: number, body: unknown, headers: Record<string, string> = {}): ApiResponse {
  return {
    statusCode,
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  };
}
