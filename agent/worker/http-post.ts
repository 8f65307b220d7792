/**
 * The worker API client's POST over node:http / node:https rather than fetch: fetch loads undici,
 * about 10 MiB of RSS in a worker that sends a request every few seconds (issue 18, `npm run
 * bench`). Same contract as the fetch it replaces for the client: resolves with the status and
 * the body's text; rejects on a network error or when `signal` aborts (timeout), body included.
 */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { ApiFetch } from './api-client.js';

/**
 * One POST, its answer read whole.
 *
 * @example
 * const api = new WorkerApiClient({ baseUrl, region, credentials, timeoutMs: 5_000, fetch: httpPost });
 */
export const httpPost: ApiFetch = (url, init) =>
  new Promise((resolve, reject) => {
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const request = send(
      url,
      {
        method: init.method,
        headers: { ...init.headers, 'content-length': String(Buffer.byteLength(init.body)) },
        signal: init.signal,
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.once('error', reject);
        response.once('aborted', () => reject(new Error('the answer was cut off')));
        response.once('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({ status: response.statusCode ?? 0, text: async () => text });
        });
      },
    );
    request.once('error', reject);
    request.end(init.body);
  });
