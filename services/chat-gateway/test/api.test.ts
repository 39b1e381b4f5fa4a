import { test } from '@sdlab/testkit';
import { describe, expect } from 'vitest';
import { buildApp } from '../src/main.ts';
import { gatewayEnv } from './support/env.ts';

type App = Awaited<ReturnType<typeof buildApp>>['app'];

async function token(app: App, userId: string, deviceId = 'd1'): Promise<string> {
  const response = await app.inject({ method: 'POST', url: '/tokens', payload: { userId, deviceId } });
  expect(response.statusCode).toBe(201);
  return response.json().token;
}

function as(app: App, bearer: string) {
  return (method: 'GET' | 'POST' | 'DELETE', url: string, payload?: object) =>
    app.inject({
      method,
      url,
      headers: { authorization: `Bearer ${bearer}` },
      ...(payload ? { payload } : {}),
    });
}

describe('REST API (app.inject on the real app)', () => {
  test('tokens, authentication and problem+json', async ({ pg, redis }) => {
    const { app } = await buildApp(gatewayEnv(pg, redis));
    try {
      const issued = await app.inject({
        method: 'POST',
        url: '/tokens',
        payload: { userId: 'alice', deviceId: 'phone' },
      });
      expect(issued.statusCode).toBe(201);
      expect(issued.json()).toMatchObject({
        userId: 'alice',
        deviceId: 'phone',
        expiresAt: expect.any(String),
      });

      const invalid = await app.inject({
        method: 'POST',
        url: '/tokens',
        payload: { userId: 'a b', deviceId: '' },
      });
      expect(invalid.statusCode).toBe(400);
      expect(invalid.headers['content-type']).toContain('application/problem+json');
      expect(
        invalid
          .json()
          .errors.map((e: { field: string }) => e.field)
          .sort(),
      ).toEqual(['body.deviceId', 'body.userId']);

      const anonymous = await app.inject({ method: 'GET', url: '/conversations' });
      expect(anonymous.statusCode).toBe(401);
      expect(anonymous.json()).toMatchObject({ code: 'SDLAB_CHAT_UNAUTHORIZED' });
      const forged = await as(app, `${issued.json().token.slice(0, -3)}AAA`)('GET', '/conversations');
      expect(forged.statusCode).toBe(401);

      const plainGet = await app.inject({ method: 'GET', url: '/ws' });
      expect(plainGet.statusCode).toBe(426);
      expect((await app.inject({ method: 'GET', url: '/docs/json' })).json().paths).toHaveProperty(
        '/conversations/{id}/messages',
      );
    } finally {
      await app.close();
    }
    const { app: locked } = await buildApp(gatewayEnv(pg, redis, { TOKEN_ENDPOINT_ENABLED: 'false' }));
    try {
      const refused = await locked.inject({
        method: 'POST',
        url: '/tokens',
        payload: { userId: 'a', deviceId: 'b' },
      });
      expect(refused.statusCode).toBe(404);
      expect(refused.json()).toMatchObject({ code: 'SDLAB_CHAT_TOKEN_ENDPOINT_DISABLED' });
    } finally {
      await locked.close();
    }
  });

  test('direct conversations are one per pair; groups are bounded and owned', async ({ pg, redis }) => {
    const { app } = await buildApp(gatewayEnv(pg, redis, { MAX_GROUP_MEMBERS: '4' }));
    try {
      const alice = as(app, await token(app, 'alice'));
      const bob = as(app, await token(app, 'bob'));
      const first = await alice('POST', '/conversations/direct', { peerId: 'bob' });
      expect(first.statusCode).toBe(201);
      const again = await bob('POST', '/conversations/direct', { peerId: 'alice' });
      expect(again.statusCode).toBe(200);
      expect(again.json().id).toBe(first.json().id);
      expect((await alice('POST', '/conversations/direct', { peerId: 'alice' })).statusCode).toBe(400);
      // Both open it at the same moment: still one conversation.
      const [x, y] = await Promise.all([
        alice('POST', '/conversations/direct', { peerId: 'carol' }),
        as(app, await token(app, 'carol'))('POST', '/conversations/direct', { peerId: 'alice' }),
      ]);
      expect(x.json().id).toBe(y.json().id);
      expect([x.statusCode, y.statusCode].sort()).toEqual([200, 201]);

      const tooBig = await alice('POST', '/conversations/groups', {
        title: 't',
        memberIds: ['b', 'c', 'd', 'e'],
      });
      expect(tooBig.statusCode).toBe(400);
      expect(tooBig.json().errors[0].field).toBe('body.memberIds');
      const group = await alice('POST', '/conversations/groups', { title: 'team', memberIds: ['bob'] });
      expect(group.statusCode).toBe(201);
      const id = group.json().id;
      expect(group.json().members.map((m: { userId: string; role: string }) => [m.userId, m.role])).toEqual([
        ['alice', 'owner'],
        ['bob', 'member'],
      ]);

      expect((await bob('POST', `/conversations/${id}/members`, { userIds: ['zed'] })).statusCode).toBe(403);
      // Two adds that each fit alone but not together: the bound holds (one is refused).
      const adds = await Promise.all([
        alice('POST', `/conversations/${id}/members`, { userIds: ['c1', 'c2'] }),
        alice('POST', `/conversations/${id}/members`, { userIds: ['d1', 'd2'] }),
      ]);
      expect(adds.map((r) => r.statusCode).sort()).toEqual([200, 409]);
      const detail = await alice('GET', `/conversations/${id}`);
      expect(detail.json().members).toHaveLength(4);

      expect((await bob('DELETE', `/conversations/${id}/members/alice`)).statusCode).toBe(403);
      expect((await alice('DELETE', `/conversations/${id}/members/alice`)).statusCode).toBe(409);
      expect((await bob('DELETE', `/conversations/${id}/members/bob`)).statusCode).toBe(204);
      expect((await bob('GET', `/conversations/${id}`)).statusCode).toBe(404);
      expect(
        (await alice('POST', `/conversations/${first.json().id}/members`, { userIds: ['x'] })).statusCode,
      ).toBe(409);

      const listed = await alice('GET', '/conversations?limit=2');
      expect(listed.json().conversations).toHaveLength(2);
      const rest = await alice('GET', `/conversations?limit=2&after=${listed.json().next}`);
      expect(rest.json()).toMatchObject({ next: null });
      expect(listed.json().conversations.length + rest.json().conversations.length).toBe(3);
    } finally {
      await app.close();
    }
  });

  test('history pages with seq cursors both ways; idempotent appends leave no seq gap', async ({
    pg,
    redis,
  }) => {
    const { app } = await buildApp(gatewayEnv(pg, redis));
    try {
      const alice = as(app, await token(app, 'alice'));
      const conversation = (await alice('POST', '/conversations/direct', { peerId: 'bob' })).json().id;
      const repository = app.chat.repository;
      // The same clientMsgId appended concurrently: one row, and the next message takes seq 2.
      const same = { conversationId: conversation, senderId: 'alice', clientMsgId: 'dup', text: 'hello' };
      const results = await Promise.all([
        repository.append(same),
        repository.append(same),
        repository.append(same),
      ]);
      expect(results.map((r) => r.status).sort()).toEqual(['duplicate', 'duplicate', 'stored']);
      for (let i = 2; i <= 7; i++) {
        const r = await repository.append({ ...same, clientMsgId: `m${i}`, text: `m${i}` });
        expect(r).toMatchObject({ status: 'stored', message: { seq: i } });
      }
      expect(await repository.append({ ...same, senderId: 'mallory', clientMsgId: 'x' })).toEqual({
        status: 'not_a_member',
      });

      const newest = await alice('GET', `/conversations/${conversation}/messages?limit=3`);
      expect(newest.json().messages.map((m: { seq: number }) => m.seq)).toEqual([5, 6, 7]);
      expect(newest.json().next).toEqual({ beforeSeq: 5 });
      const older = await alice('GET', `/conversations/${conversation}/messages?limit=3&beforeSeq=5`);
      expect(older.json().messages.map((m: { seq: number }) => m.seq)).toEqual([2, 3, 4]);
      const oldest = await alice('GET', `/conversations/${conversation}/messages?limit=3&beforeSeq=2`);
      expect(oldest.json()).toMatchObject({
        messages: [{ seq: 1, clientMsgId: 'dup' }],
        next: null,
        lastSeq: 7,
      });
      const forward = await alice('GET', `/conversations/${conversation}/messages?afterSeq=4&limit=2`);
      expect(forward.json().messages.map((m: { seq: number }) => m.seq)).toEqual([5, 6]);
      expect(forward.json().next).toEqual({ afterSeq: 6 });

      const both = await alice('GET', `/conversations/${conversation}/messages?afterSeq=1&beforeSeq=3`);
      expect(both.statusCode).toBe(400);
      const stranger = as(app, await token(app, 'mallory'));
      expect((await stranger('GET', `/conversations/${conversation}/messages`)).statusCode).toBe(404);

      const presence = await alice('GET', '/presence?userIds=alice,bob');
      expect(presence.json().users).toEqual([
        { userId: 'alice', online: false, devices: 0, lastSeenAt: null },
        { userId: 'bob', online: false, devices: 0, lastSeenAt: null },
      ]);
      expect((await alice('GET', '/presence?userIds=a%20b')).statusCode).toBe(400);
    } finally {
      await app.close();
    }
  });
});
