import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

const RESPONSE = Symbol('sdlab.latest-response');
type Connection = Socket & { [RESPONSE]?: ServerResponse };

/**
 * Draining without a per-request hook. A keep-alive connection whose request is in flight when the
 * service starts closing gets `Connection: close` on that response: otherwise it stays open until
 * its idle timeout and holds the process past its shutdown deadline. (A request that arrives later
 * meets Fastify's own closing path, which answers it with `Connection: close`.) Connections are
 * tracked as they open, each request notes its response on its connection (`noteResponse`, called
 * from the kit's log controller as each request starts, one property write), and only the close walks them: an onSend hook
 * checking a flag cost a turn of Fastify's hook runner on every response, draining or not.
 */
export function registerDraining(
  app: FastifyInstance,
): (request: FastifyRequest, reply: FastifyReply) => void {
  const connections = new Set<Connection>();
  app.server.on('connection', (socket: Connection) => {
    connections.add(socket);
    socket.once('close', () => connections.delete(socket));
  });
  app.addHook('preClose', (done) => {
    for (const socket of connections) {
      const response = socket[RESPONSE];
      if (response !== undefined && !response.headersSent) response.setHeader('connection', 'close');
    }
    done();
  });
  return function noteResponse(request, reply) {
    (request.raw.socket as Connection)[RESPONSE] = reply.raw;
  };
}
