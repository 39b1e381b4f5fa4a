// The limit the chat gateway's delivery path is measured against: a WebSocket server that does
// only what a delivery needs on the wire — parse the sender's JSON frame, answer an ack, and
// write the message frame to the peer's socket in the same process. No auth, storage or
// pub/sub: the gateway's cost per delivered message is read against this one's.
import { createServer } from 'node:http';
import { type WebSocket, WebSocketServer } from 'ws';

const sockets = new Map<string, WebSocket>();
const server = createServer((_request, response) => response.writeHead(404).end());
const wss = new WebSocketServer({ server, path: '/ws', maxPayload: 64 * 1024 });
wss.on('connection', (socket, request) => {
  const user = new URL(request.url ?? '/', 'http://bare').searchParams.get('user') ?? '';
  sockets.set(user, socket);
  socket.send(JSON.stringify({ v: 1, type: 'hello', userId: user }));
  socket.on('message', (data) => {
    const frame = JSON.parse(String(data)) as {
      to: string;
      clientMsgId: string;
      text: string;
      clientTs: number;
    };
    socket.send(JSON.stringify({ v: 1, type: 'ack', clientMsgId: frame.clientMsgId, seq: 1 }));
    sockets.get(frame.to)?.send(
      JSON.stringify({
        v: 1,
        type: 'message',
        senderId: user,
        text: frame.text,
        clientTs: frame.clientTs,
        seq: 1,
      }),
    );
  });
  socket.on('close', () => sockets.delete(user));
});
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  process.stdout.write(`${JSON.stringify({ listening: `http://127.0.0.1:${port}` })}\n`);
});
process.once('SIGTERM', () => {
  for (const socket of sockets.values()) socket.terminate();
  server.close(() => process.exit(0));
});
