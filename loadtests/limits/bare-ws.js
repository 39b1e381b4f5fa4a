// k6: the bare WebSocket relay (bare-ws.ts) with the chat scenario's shape: CONNECTIONS sockets
// in pairs, RATE messages per second in total, each answered with an ack and delivered to the
// peer. Its delivery latency and CPU per delivered message are the floor the gateway is read against.
import { Counter, Trend } from 'k6/metrics';
import { clearInterval, setInterval, setTimeout } from 'k6/timers';
import { WebSocket } from 'k6/websockets';
import { duration, profile, rate } from '../lib/targets.js';

const CONNECTIONS = 2 * Math.ceil((Number(__ENV.CONNECTIONS) || (profile === 'full' ? 1000 : 20)) / 2);
const MESSAGES_PER_S = rate(40, 300);
const SECONDS = Number.parseInt(duration('10s', '30s'), 10);
const deliveryMs = new Trend('bare_delivery_ms', true);
const delivered = new Counter('bare_messages_delivered');

export const options = {
  scenarios: {
    connections: {
      executor: 'per-vu-iterations',
      vus: CONNECTIONS,
      iterations: 1,
      maxDuration: `${SECONDS + 30}s`,
    },
  },
};

export default function () {
  const me = __VU - 1;
  const peer = me ^ 1;
  const ws = new WebSocket(`${__ENV.BASE_URL.replace(/^http/, 'ws')}/ws?user=${me}`);
  const intervalMs = (CONNECTIONS / MESSAGES_PER_S) * 1000;
  let counter = 0;
  let timer;
  ws.onmessage = (event) => {
    const frame = JSON.parse(event.data);
    if (frame.type === 'hello') {
      setTimeout(() => {
        timer = setInterval(() => {
          counter++;
          ws.send(
            JSON.stringify({
              v: 1,
              type: 'send',
              to: String(peer),
              clientMsgId: `${me}-${counter}`,
              text: `k6 ${counter}`,
              clientTs: Date.now(),
            }),
          );
        }, intervalMs);
      }, Math.random() * intervalMs);
    } else if (frame.type === 'message') {
      delivered.add(1);
      deliveryMs.add(Date.now() - frame.clientTs);
    }
  };
  ws.onerror = () => undefined;
  setTimeout(() => {
    clearInterval(timer);
    setTimeout(() => ws.close(), 1000);
  }, SECONDS * 1000);
}
