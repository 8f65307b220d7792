/** One problem with a request, located by its field path (e.g. `body.text`, `headers.content-type`). */
export interface FieldIssue {
  readonly fieldPath: string;
  readonly message: string;
}

/** A request the client got wrong: always a 4xx with the field path, never a 5xx. */
export class ApiRequestError extends Error {
  public constructor(
    public readonly statusCode: number,
    public readonly code: string,
    public readonly issues: readonly FieldIssue[],
  ) {
    super(issues.map((i) => `${i.fieldPath}: ${i.message}`).join('; '));
    this.name = 'ApiRequestError';
  }

  public static single(
    statusCode: number,
    code: string,
    fieldPath: string,
    message: string,
  ): ApiRequestError {
    return new ApiRequestError(statusCode, code, [{ fieldPath, message }]);
  }
}
