/**
 * SDK clients pointed at the local emulators. Credentials are static and fake
 * and the region is fixed, so no client ever looks up a profile, SSO, or the
 * instance metadata service, and nothing leaves the machine.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SQSClient } from '@aws-sdk/client-sqs';

/** Region every local client and every local ARN uses. */
export const LOCAL_REGION = 'us-east-1';

/** Accepted by DynamoDB Local and fauxqs (DynamoDB Local wants letters and digits only in the key id). */
export const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' } as const;

/**
 * @example
 * const dynamo = localDynamoDbClient(emulators.dynamoEndpoint);
 */
export function localDynamoDbClient(endpoint: string): DynamoDBClient {
  return new DynamoDBClient({ endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
}

/**
 * `useQueueUrlAsEndpoint: false` keeps every request on `endpoint`, whatever
 * host a queue URL names.
 *
 * @example
 * const sqs = localSqsClient(emulators.sqsEndpoint);
 */
export function localSqsClient(endpoint: string): SQSClient {
  return new SQSClient({
    endpoint,
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
    useQueueUrlAsEndpoint: false,
  });
}

/**
 * For a local EventBridge stand-in (there is no EventBridge emulator; the local
 * runtime serves PutEvents itself).
 *
 * @example
 * const events = localEventBridgeClient('http://127.0.0.1:4010');
 */
export function localEventBridgeClient(endpoint: string): EventBridgeClient {
  return new EventBridgeClient({ endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
}
