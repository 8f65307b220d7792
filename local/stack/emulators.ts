/**
 * DynamoDB Local and the SQS emulator of the stack, started in its data folder, and the SDK
 * clients every other part of the stack talks to them with.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createDocumentClient } from '#wiring/clients.js';
import { localDynamoDbClient, localSqsClient } from '../emulators/clients.js';
import { type Emulators, startEmulators } from '../emulators/start-emulators.js';
import { type DataFolder, emulatorStartFailure } from './data-folder.js';
import type { LocalStackOptions } from './options.js';

/**
 * Starts both emulators on the options' ports, keeping their data in the folder (in memory without one).
 * A start that fails on the folder's data throws `DataFolderError`.
 */
export async function startStackEmulators(
  options: Pick<LocalStackOptions, 'dynamoPort' | 'sqsPort'>,
  folder: DataFolder,
): Promise<Emulators> {
  try {
    return await startEmulators({
      dynamoPort: options.dynamoPort,
      sqsPort: options.sqsPort,
      ...(folder.path ? { dataDir: folder.path } : {}),
    });
  } catch (error) {
    throw emulatorStartFailure(folder, error);
  }
}

export interface StackClients {
  readonly dynamo: DynamoDBClient;
  readonly documents: DynamoDBDocumentClient;
  readonly sqs: SQSClient;
}

/** One client per emulator, shared by provisioning, the handlers and the pollers (as Lambda shares them per module). */
export function stackClients(emulators: Pick<Emulators, 'dynamoEndpoint' | 'sqsEndpoint'>): StackClients {
  const dynamo = localDynamoDbClient(emulators.dynamoEndpoint);
  return {
    dynamo,
    sqs: localSqsClient(emulators.sqsEndpoint),
    documents: createDocumentClient(dynamo),
  };
}
