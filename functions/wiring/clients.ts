import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

/**
 * SDK clients, created once per process and shared (STYLE principle 8).
 * Endpoints follow the SDK's own `AWS_ENDPOINT_URL_<SERVICE>` variables, which
 * is how the local stack points the same handler code at the emulators.
 */
export interface AwsClients {
  readonly dynamo: DynamoDBClient;
  readonly documents: DynamoDBDocumentClient;
  readonly sqs: SQSClient;
  readonly eventBridge: EventBridgeClient;
}

export function createDocumentClient(dynamo: DynamoDBClient): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(dynamo, { marshallOptions: { removeUndefinedValues: true } });
}

let shared: AwsClients | undefined;

/** The process-wide clients; tests pass their own clients to the factories instead. */
export function awsClients(): AwsClients {
  if (!shared) {
    const dynamo = new DynamoDBClient({});
    shared = {
      dynamo,
      documents: createDocumentClient(dynamo),
      // With a custom endpoint (the local stack), send to it rather than to each queue URL's host.
      sqs: new SQSClient(process.env.AWS_ENDPOINT_URL_SQS ? { useQueueUrlAsEndpoint: false } : {}),
      eventBridge: new EventBridgeClient({}),
    };
  }
  return shared;
}
