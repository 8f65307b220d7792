/**
 * Counts AWS requests by service and operation with an SDK middleware, and
 * DynamoDB capacity from `ReturnConsumedCapacity` (asked for on every call).
 */
type Handler = (args: { input: Record<string, unknown> }) => Promise<{ output: Record<string, unknown> }>;
interface MiddlewareClient {
  middlewareStack: {
    add(
      middleware: (next: Handler, context: { clientName?: string; commandName?: string }) => Handler,
      options: { step: 'initialize'; name: string },
    ): void;
  };
}

const CAPACITY_OPERATIONS = new Set([
  'PutItemCommand',
  'UpdateItemCommand',
  'DeleteItemCommand',
  'BatchWriteItemCommand',
  'GetItemCommand',
  'QueryCommand',
  'ScanCommand',
  'BatchGetItemCommand',
  'TransactWriteItemsCommand',
]);
const WRITE_OPERATIONS = new Set([
  'PutItemCommand',
  'UpdateItemCommand',
  'DeleteItemCommand',
  'BatchWriteItemCommand',
]);

interface CapacityEntry {
  CapacityUnits?: number;
}

export class RequestMeter {
  public readonly requests = new Map<string, number>();
  public writeUnits = 0;
  public readUnits = 0;
  public eventBridgeEntries = 0;
  /** SQS ReceiveMessage calls that returned nothing (idle polling, not per-command cost). */
  public emptyReceives = 0;

  /** Attaches the meter to an SDK v3 client (or a document client's underlying client). */
  public attach(sdkClient: { readonly middlewareStack: unknown }, label?: string): void {
    const client = sdkClient as MiddlewareClient;
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const service = label ?? (context.clientName ?? 'Unknown').replace(/Client$/, '');
        const operation = (context.commandName ?? 'Unknown').replace(/Command$/, '');
        const command = context.commandName ?? '';
        if (CAPACITY_OPERATIONS.has(command)) args.input.ReturnConsumedCapacity = 'TOTAL';
        if (command === 'PutEventsCommand') {
          this.eventBridgeEntries += (args.input.Entries as unknown[] | undefined)?.length ?? 0;
        }
        try {
          const result = await next(args);
          if (
            command === 'ReceiveMessageCommand' &&
            ((result.output.Messages as unknown[]) ?? []).length === 0
          ) {
            this.emptyReceives++;
          } else {
            this.count(`${service}.${operation}`);
          }
          this.addCapacity(command, result.output.ConsumedCapacity);
          return result;
        } catch (error) {
          this.count(`${service}.${operation}`);
          // A failed conditional write is billed too; DynamoDB Local reports no capacity for it, so count 1 unit.
          if (WRITE_OPERATIONS.has(command)) this.writeUnits += 1;
          throw error;
        }
      },
      { step: 'initialize', name: `requestMeter-${Math.random()}` },
    );
  }

  public total(prefix = ''): number {
    let sum = 0;
    for (const [key, n] of this.requests) if (key.startsWith(prefix)) sum += n;
    return sum;
  }

  private count(key: string): void {
    this.requests.set(key, (this.requests.get(key) ?? 0) + 1);
  }

  private addCapacity(command: string, consumed: unknown): void {
    if (!consumed) return;
    const entries = (Array.isArray(consumed) ? consumed : [consumed]) as CapacityEntry[];
    const units = entries.reduce((sum, entry) => sum + (entry.CapacityUnits ?? 0), 0);
    if (WRITE_OPERATIONS.has(command)) this.writeUnits += units;
    else this.readUnits += units;
  }
}
