import { type Agent, type IncomingHttpHeaders, request } from 'node:http';

export interface PostReply {
  status: number;
  body: string;
  headers: IncomingHttpHeaders;
}

/**
 * POSTs `body` as JSON over node:http through `agent`. The multi-process guarantee tests issue
 * thousands of requests at once: a keep-alive agent with a bounded pool queues them on a few
 * sockets instead of opening a connection (and a TCP handshake) per request, as fetch would.
 */
export function postJson(url: string, body: unknown, agent?: Agent): Promise<PostReply> {
  const payload = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
      },
      (res) => {
        let data = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => {
          data += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: data, headers: res.headers }));
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}
