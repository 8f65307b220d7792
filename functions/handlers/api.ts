// Placeholder until the API handler lands in this same change; exists so the CDK can bundle it.
export const handler = async (): Promise<{ statusCode: number; body: string }> => ({
  statusCode: 503,
  body: '{}',
});
