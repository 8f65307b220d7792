import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';
/**
 * SigV4 signing pieces shared by the `runlane` CLI and `runlane-agent` (both call the API with
 * IAM auth): the credentials' shape and a SHA-256 over node:crypto for `@smithy/signature-v4`.
 */

/** AWS credentials as the SDK's providers resolve them. */
export interface ApiCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
}

type SourceData = string | ArrayBuffer | ArrayBufferView;

function toBuffer(data: SourceData): Buffer {
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return Buffer.from(data);
}

/** SHA-256 (and HMAC-SHA-256 with a secret) over node:crypto, in the shape SignatureV4 takes. */
export class NodeSha256 {
  private hash: Hash | Hmac;

  public constructor(private readonly secret?: SourceData) {
    this.hash = this.create();
  }

  public update(data: SourceData): void {
    this.hash.update(toBuffer(data));
  }

  public async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }

  public reset(): void {
    this.hash = this.create();
  }

  private create(): Hash | Hmac {
    return this.secret === undefined ? createHash('sha256') : createHmac('sha256', toBuffer(this.secret));
  }
}
