import { type DynamoDBDocumentClient, QueryCommand, type QueryCommandInput } from '@aws-sdk/lib-dynamodb';
import type { Item } from './items.js';

/** A Query of one partition, less the paging the helpers below do. */
export type PartitionQuery = Omit<QueryCommandInput, 'ExclusiveStartKey' | 'Limit'>;

/**
 * The items of a Query across its pages, at most `limit` (all when undefined), each page at most
 * `pageSize` items (DynamoDB's 1 MB page when undefined).
 */
async function queryPages(
  client: DynamoDBDocumentClient,
  input: PartitionQuery,
  options: { readonly limit?: number; readonly pageSize?: number } = {},
): Promise<Item[]> {
  const { limit, pageSize } = options;
  const items: Item[] = [];
  if (limit !== undefined && limit <= 0) return items;
  let cursor: Record<string, unknown> | undefined;
  do {
    const left = limit === undefined ? undefined : limit - items.length;
    const pageLimit = left === undefined ? pageSize : Math.min(left, pageSize ?? left);
    const page = await client.send(
      new QueryCommand({
        ...input,
        ExclusiveStartKey: cursor,
        ...(pageLimit !== undefined ? { Limit: pageLimit } : {}),
      }),
    );
    items.push(...(page.Items ?? []));
    cursor = page.LastEvaluatedKey;
  } while (cursor && (limit === undefined || items.length < limit));
  return items;
}

/**
 * The same Query over each of `partitions` (the shards of a partition and its unsharded
 * predecessor), in parallel: `build(pk)` gives each one's input. Items come partition by
 * partition, in the order of `partitions`.
 */
export async function queryPartitions(
  client: DynamoDBDocumentClient,
  partitions: readonly string[],
  build: (pk: string) => PartitionQuery,
  options: { readonly limit?: number; readonly pageSize?: number } = {},
): Promise<Item[]> {
  const pages = await Promise.all(partitions.map((pk) => queryPages(client, build(pk), options)));
  return pages.flat();
}

/**
 * Orders two key strings the way DynamoDB sorts a string sort key: by their UTF-8 bytes, which
 * is code point order (UTF-16 code units order the same except astral characters, whose
 * surrogates sort below U+E000–U+FFFF; they are moved above them here).
 *
 * @example
 * ['WORKER#b', 'WORKER#a'].sort(compareKeys); // ['WORKER#a', 'WORKER#b']
 */
export function compareKeys(a: string, b: string): number {
  const length = Math.min(a.length, b.length);
  for (let index = 0; index < length; index++) {
    const x = codePointRank(a.charCodeAt(index));
    const y = codePointRank(b.charCodeAt(index));
    if (x !== y) return x - y;
  }
  return a.length - b.length;
}

function codePointRank(unit: number): number {
  if (unit >= 0xd800 && unit <= 0xdfff) return unit + 0x2000;
  if (unit >= 0xe000) return unit - 0x800;
  return unit;
}
