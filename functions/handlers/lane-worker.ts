// Placeholder until the lane worker lands in this same change; exists so the CDK can bundle it.
export const handler = async (): Promise<{ batchItemFailures: { itemIdentifier: string }[] }> => ({
  batchItemFailures: [],
});
