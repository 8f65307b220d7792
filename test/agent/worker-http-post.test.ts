/**
 * httpPost (agent/worker/http-post.ts), the worker API client's POST over node:http instead of
 * fetch (issue 18: fetch costs the worker ~10 MiB): against a real server on 127.0.0.1, it sends
 * the body and headers, resolves with the status and the whole body, and rejects on a timeout
 * (also mid-body) and on a refused connection.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { httpPost } from '#agent/worker/http-post.js';

let server: Server | undefined;

afterEach(async () => {
  server?.closeAllConnections();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

async function serve(handler: Parameters<typeof createServer>[1]): Promise<URL> {
  const listening = createServer(handler);
  server = listening;
  await new Promise<void>((resolve) => listening.listen(0, '127.0.0.1', resolve));
  return new URL(`http://127.0.0.1:${(listening.address() as AddressInfo).port}/api/workers/results`);
}

const readBody = (request: IncomingMessage): Promise<string> =>
  new Promise((resolve) => {
    let text = '';
    request.on('data', (chunk: Buffer) => {
      text += chunk.toString();
    });
    request.on('end', () => resolve(text));
  });

const post = (url: URL, timeoutMs = 5_000) =>
  httpPost(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'AWS4-HMAC-SHA256 test' },
    body: JSON.stringify({ payload_type: 'health', ü: 'ü' }),
    signal: AbortSignal.timeout(timeoutMs),
  });

describe('httpPost', () => {
  it('sends the method, headers and body; resolves with the status and the whole body', async () => {
    const seen: { method?: string; headers?: IncomingMessage['headers']; body?: string } = {};
    const url = await serve(async (request, response) => {
      seen.method = request.method;
      seen.headers = request.headers;
      seen.body = await readBody(request);
      response.writeHead(409, { 'content-type': 'application/json' });
      response.write('{"error":"already_');
      setTimeout(() => response.end('claimed"}'), 20);
    });
    const answer = await post(url);
    expect(answer.status).toBe(409);
    expect(JSON.parse(await answer.text())).toEqual({ error: 'already_claimed' });
    expect(seen.method).toBe('POST');
    expect(seen.headers?.authorization).toBe('AWS4-HMAC-SHA256 test');
    expect(seen.headers?.['content-length']).toBe(String(Buffer.byteLength(seen.body ?? '')));
    expect(JSON.parse(seen.body ?? '')).toEqual({ payload_type: 'health', ü: 'ü' });
  });

  it('rejects when the signal aborts before the answer, and while its body is still coming', async () => {
    const silent = await serve(() => {});
    await expect(post(silent, 200)).rejects.toThrow();
    server?.closeAllConnections();
    await new Promise<void>((resolve) => server?.close(() => resolve()));
    const slowBody = await serve((_request, response) => {
      response.writeHead(200);
      response.write('{"par');
    });
    await expect(post(slowBody, 300).then((answer) => answer.text())).rejects.toThrow();
  });

  it('rejects a refused connection', async () => {
    const url = await serve(() => {});
    await new Promise<void>((resolve) => server?.close(() => resolve()));
    server = undefined;
    await expect(post(url)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });
});
