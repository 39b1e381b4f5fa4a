// k6: the chat gateway. N WebSocket connections across two instances (BASE_URL and BASE_URL_2;
// one instance if BASE_URL_2 is unset), paired into 1:1 conversations whose two users sit on
// different instances, so every delivery crosses the Redis pub/sub hop. Messages go out at a
// constant total rate; the recipient measures delivery latency from the sender's `clientTs`,
// echoed in the message frame (one machine, one clock). A probe samples each instance's
// /metrics while the connections are held: sockets per instance and memory per socket.
import { check } from 'k6';
import exec from 'k6/execution';
import http from 'k6/http';
import { Counter, Rate, Trend } from 'k6/metrics';
import { clearInterval, setInterval, setTimeout } from 'k6/timers';
import { WebSocket } from 'k6/websockets';
import { setupDone, setupRequestCount } from '../lib/measured.js';
import { duration, errorRate, profile, rate, target } from '../lib/targets.js';

const BASES = [__ENV.BASE_URL, __ENV.BASE_URL_2 || __ENV.BASE_URL].filter(Boolean);
if (BASES.length === 0) throw new Error('set BASE_URL (and BASE_URL_2 for a second instance)');
/** Open connections: `__ENV.CONNECTIONS` or the profile's (an even number: users come in pairs). */
const CONNECTIONS = 2 * Math.ceil((Number(__ENV.CONNECTIONS) || (profile === 'full' ? 1000 : 20)) / 2);
/** Messages per second, all connections together. */
// full: the highest rate one instance held on the reference 2-core machine (loadtests/README.md); --capacity finds yours.
const MESSAGES_PER_S = rate(40, 300);
const DURATION = duration('15s', '60s');
const RUN_ID = `${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;

const deliveryMs = new Trend('chat_delivery_ms', true);
/** One group of up to 256 members (the first users): a message reaching every other member. */
const GROUP_SIZE = Math.min(256, CONNECTIONS);
const fanoutMs = new Trend('chat_group_fanout_ms', true);
const fanoutDelivered = new Counter('chat_group_deliveries');
const ackMs = new Trend('chat_ack_ms', true);
const sent = new Counter('chat_messages_sent');
const delivered = new Counter('chat_messages_delivered');
const sendFailed = new Rate('chat_send_failed');
const opened = new Counter('chat_connections_opened');
const lost = new Counter('chat_connections_lost');
const socketsHeld = new Trend('chat_gateway_open_sockets');
const kbPerSocket = new Trend('chat_gateway_kb_per_socket');
const heapKbPerSocket = new Trend('chat_gateway_heap_kb_per_socket');

export const options = {
  setupTimeout: '120s',
  scenarios: {
    connections: {
      executor: 'per-vu-iterations',
      vus: CONNECTIONS,
      iterations: 1,
      maxDuration: `${seconds(DURATION) + 60}s`,
    },
    probe: {
      executor: 'per-vu-iterations',
      exec: 'probe',
      vus: 1,
      iterations: 1,
      // Once every connection had time to open, well before the run ends.
      startTime: `${Math.max(2, Math.floor(seconds(DURATION) / 2))}s`,
    },
  },
  thresholds: {
    ...setupRequestCount,
    chat_delivery_ms: [`p(95)<${target('chat-gateway', 'delivery_p95_ms')}`],
    chat_group_fanout_ms: [`p(95)<${target('chat-gateway', 'group_fanout_p95_ms')}`],
    chat_send_failed: [`rate<${errorRate}`],
    chat_connections_lost: ['count==0'],
    chat_messages_delivered: ['count>0'],
  },
};

function seconds(text) {
  const match = /^(\d+)(ms|s|m)$/.exec(text);
  if (!match) throw new Error(`duration ${text}: use ms, s or m`);
  const n = Number(match[1]);
  return match[2] === 'ms' ? n / 1000 : match[2] === 'm' ? n * 60 : n;
}

/** Resident memory, V8 heap in use and open sockets of one instance, from its /metrics. */
function memory(base) {
  const body = http.get(`${base}/metrics`, { tags: { name: 'metrics' } }).body || '';
  const read = (name) => Number(new RegExp(`^${name}\\S* (\\S+)$`, 'm').exec(body)?.[1] ?? 0);
  return {
    rss: read('process_resident_memory_bytes'),
    heap: read('nodejs_heap_size_used_bytes'),
    sockets: read('sdlab_chat_open_sockets'),
  };
}

/** Users, their tokens and conversations; user 2k talks to 2k+1, on the other instance. */
export function setup() {
  const base = BASES[0];
  const users = [];
  for (let from = 0; from < CONNECTIONS; from += 100) {
    const batch = [];
    for (let i = from; i < Math.min(CONNECTIONS, from + 100); i++) {
      batch.push([
        'POST',
        `${base}/tokens`,
        JSON.stringify({ userId: `k6-${RUN_ID}-${i}`, deviceId: 'k6' }),
        { headers: { 'content-type': 'application/json' }, tags: { name: 'setup' } },
      ]);
    }
    for (const res of http.batch(batch)) {
      check(res, { 'token issued': (r) => r.status === 201 });
      users.push({ userId: res.json('userId'), token: res.json('token') });
    }
  }
  for (let i = 0; i < CONNECTIONS; i += 2) {
    const res = http.post(`${base}/conversations/direct`, JSON.stringify({ peerId: users[i + 1].userId }), {
      headers: { 'content-type': 'application/json', authorization: `Bearer ${users[i].token}` },
      tags: { name: 'setup' },
    });
    check(res, { 'conversation opened': (r) => r.status === 201 || r.status === 200 });
    users[i].conversationId = users[i + 1].conversationId = res.json('id');
  }
  // The group: user 0 owns it, users 1..GROUP_SIZE-1 are members, on both instances.
  const group = http.post(
    `${base}/conversations/groups`,
    JSON.stringify({
      title: `k6 fan-out ${RUN_ID}`,
      memberIds: users.slice(1, GROUP_SIZE).map((u) => u.userId),
    }),
    {
      headers: { 'content-type': 'application/json', authorization: `Bearer ${users[0].token}` },
      tags: { name: 'setup' },
    },
  );
  check(group, { 'group created': (r) => r.status === 201 });
  // Each instance's memory before the connections, to attribute the growth to them.
  setupDone();
  return { users, groupId: group.json('id'), idle: BASES.map((b) => memory(b)) };
}

export default function (data) {
  // 0..N-1 within this scenario (VU numbers are shared with the probe scenario).
  const index = exec.scenario.iterationInTest;
  const me = data.users[index];
  const instance = index % 2 < BASES.length ? index % 2 : 0;
  const url = `${BASES[instance].replace(/^http/, 'ws')}/ws?access_token=${encodeURIComponent(me.token)}`;
  const intervalMs = (CONNECTIONS / MESSAGES_PER_S) * 1000;
  const pending = new Map();
  let counter = 0;
  let ending = false;
  let timer;
  let groupTimer;
  let groupCounter = 0;

  const ws = new WebSocket(url);
  ws.onopen = () => opened.add(1);
  ws.onmessage = (event) => {
    const frame = JSON.parse(event.data);
    if (frame.type === 'hello' && index === 0 && data.groupId) {
      groupTimer = setInterval(() => {
        ws.send(
          JSON.stringify({
            v: 1,
            type: 'send',
            conversationId: data.groupId,
            clientMsgId: `group-${++groupCounter}`,
            text: `k6 group ${groupCounter}`,
            clientTs: Date.now(),
          }),
        );
      }, 1000);
    }
    if (frame.type === 'hello') {
      // Spread the first sends over one interval so the rate is even from the start.
      setTimeout(() => {
        timer = setInterval(() => {
          const clientMsgId = `${index}-${++counter}`;
          const now = Date.now();
          pending.set(clientMsgId, now);
          ws.send(
            JSON.stringify({
              v: 1,
              type: 'send',
              conversationId: me.conversationId,
              clientMsgId,
              text: `k6 ${counter}`,
              clientTs: now,
            }),
          );
          sent.add(1);
        }, intervalMs);
      }, Math.random() * intervalMs);
    } else if (frame.type === 'message' && frame.conversationId === data.groupId) {
      if (frame.senderId !== me.userId) {
        fanoutDelivered.add(1);
        fanoutMs.add(Date.now() - frame.clientTs);
      }
    } else if (frame.type === 'message') {
      delivered.add(1);
      deliveryMs.add(Date.now() - frame.clientTs);
    } else if (frame.type === 'ack') {
      const at = pending.get(frame.clientMsgId);
      pending.delete(frame.clientMsgId);
      if (at !== undefined) ackMs.add(Date.now() - at);
      sendFailed.add(false);
    } else if (frame.type === 'error') {
      pending.delete(frame.ref);
      sendFailed.add(true);
    }
  };
  ws.onclose = () => {
    clearInterval(timer);
    clearInterval(groupTimer);
    if (!ending) lost.add(1);
  };
  ws.onerror = () => undefined;
  setTimeout(() => {
    ending = true;
    clearInterval(timer);
    clearInterval(groupTimer);
    // A moment for the last deliveries and acks in flight.
    setTimeout(() => ws.close(), 1000);
  }, seconds(DURATION) * 1000);
}

/** Sockets each instance holds mid-run, and its memory growth per socket since setup. */
export function probe(data) {
  BASES.forEach((base, i) => {
    if (i > 0 && base === BASES[0]) return;
    const { rss, heap, sockets } = memory(base);
    const tags = { instance: String(i + 1) };
    socketsHeld.add(sockets, tags);
    if (sockets > 0) {
      // Growth since setup over the sockets held: includes buffers of traffic in flight, so the
      // figure is per idle socket only when the run sends few messages (a low RATE).
      kbPerSocket.add((rss - data.idle[i].rss) / sockets / 1024, tags);
      heapKbPerSocket.add((heap - data.idle[i].heap) / sockets / 1024, tags);
    }
  });
}
