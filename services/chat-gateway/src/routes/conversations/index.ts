import type { App } from '@sdlab/service-kit';
import Type from 'typebox';
import type { Config } from '../../config.ts';
import { ChatErrors } from '../../errors.ts';
import { ProblemSchema, UserId } from '../../schemas/common.ts';
import {
  addMembersBody,
  ConversationDetailSchema,
  ConversationParams,
  ConversationSchema,
  ConversationSummarySchema,
  createGroupBody,
  HistorySchema,
  historyQuery,
  ListQuery,
  OpenDirectBody,
} from '../../schemas/conversations.ts';

const errors = {
  400: ProblemSchema,
  401: ProblemSchema,
  403: ProblemSchema,
  404: ProblemSchema,
  409: ProblemSchema,
};

/** Conversations (1:1 and groups), their members, and message history with keyset cursors. */
export async function conversationRoutes(app: App, opts: { config: Config }) {
  const { config } = opts;
  const { repository, service } = app.chat;
  app.addHook('onRequest', app.chat.authenticate);

  app.post(
    '/conversations/direct',
    {
      schema: {
        tags: ['conversations'],
        summary: 'Open the 1:1 conversation with a user (created on first use, the same one afterwards)',
        body: OpenDirectBody,
        response: { 200: ConversationSchema, 201: ConversationSchema, ...errors },
      },
    },
    async (request, reply) => {
      const me = request.identity.userId;
      const { conversation, created } = await repository.openDirect(me, request.body.peerId);
      if (created) await service.membershipChanged(conversation.id, [request.body.peerId], 'added', me);
      return reply.code(created ? 201 : 200).send(conversation);
    },
  );

  app.post(
    '/conversations/groups',
    {
      schema: {
        tags: ['conversations'],
        summary: `Create a group; the creator is its owner (at most ${config.MAX_GROUP_MEMBERS} members)`,
        body: createGroupBody(config.MAX_GROUP_MEMBERS),
        response: { 201: ConversationDetailSchema, ...errors },
      },
    },
    async (request, reply) => {
      const me = request.identity.userId;
      const { conversation, members } = await repository.createGroup(
        me,
        request.body.title,
        request.body.memberIds,
        config.MAX_GROUP_MEMBERS,
      );
      await service.membershipChanged(
        conversation.id,
        members.filter((m) => m !== me),
        'added',
        me,
      );
      return reply.code(201).send((await repository.get(conversation.id, me))!);
    },
  );

  app.get(
    '/conversations',
    {
      schema: {
        tags: ['conversations'],
        summary: "The caller's conversations with their last seq and the caller's receipts (keyset pages)",
        querystring: ListQuery,
        response: {
          200: Type.Object({
            conversations: Type.Array(ConversationSummarySchema),
            /** Pass as `after` for the next page; null on the last page. */
            next: Type.Union([Type.String(), Type.Null()]),
          }),
          ...errors,
        },
      },
    },
    async (request) => {
      const { limit, after } = request.query;
      const conversations = await repository.list(request.identity.userId, limit, after);
      return {
        conversations,
        next: conversations.length === limit ? conversations[conversations.length - 1]!.id : null,
      };
    },
  );

  app.get(
    '/conversations/:id',
    {
      schema: {
        tags: ['conversations'],
        summary: 'A conversation with its members and their delivered/read receipts',
        params: ConversationParams,
        response: { 200: ConversationDetailSchema, ...errors },
      },
    },
    async (request) => {
      const conversation = await repository.get(request.params.id, request.identity.userId);
      if (!conversation) throw new ChatErrors.ConversationNotFound(request.params.id);
      return conversation;
    },
  );

  app.post(
    '/conversations/:id/members',
    {
      schema: {
        tags: ['conversations'],
        summary: 'Add members to a group (owner only; the group stays within its size bound)',
        params: ConversationParams,
        body: addMembersBody(config.MAX_GROUP_MEMBERS),
        response: { 200: Type.Object({ added: Type.Array(UserId) }), ...errors },
      },
    },
    async (request) => {
      const me = request.identity.userId;
      const added = await repository.addMembers(
        request.params.id,
        me,
        request.body.userIds,
        config.MAX_GROUP_MEMBERS,
      );
      await service.membershipChanged(request.params.id, added, 'added', me);
      return { added };
    },
  );

  app.delete(
    '/conversations/:id/members/:userId',
    {
      schema: {
        tags: ['conversations'],
        summary: 'Remove a member (owner), or leave (yourself)',
        params: Type.Object({ ...ConversationParams.properties, userId: UserId }),
        response: { 204: Type.Null(), ...errors },
      },
    },
    async (request, reply) => {
      const me = request.identity.userId;
      await repository.removeMember(request.params.id, me, request.params.userId);
      await service.membershipChanged(request.params.id, [request.params.userId], 'removed', me);
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/conversations/:id/messages',
    {
      schema: {
        tags: ['messages'],
        summary: 'Message history in seq order; afterSeq to catch up, beforeSeq (default) to scroll back',
        params: ConversationParams,
        querystring: historyQuery(config.PAGE_MAX),
        response: { 200: HistorySchema, ...errors },
      },
    },
    async (request) => {
      const { afterSeq, beforeSeq, limit } = request.query;
      if (afterSeq !== undefined && beforeSeq !== undefined) throw new ChatErrors.CursorConflict();
      const cursor = afterSeq !== undefined ? { afterSeq } : { beforeSeq: beforeSeq ?? null };
      const page = await repository.page(request.params.id, request.identity.userId, cursor, limit);
      if (!page) throw new ChatErrors.ConversationNotFound(request.params.id);
      const { messages } = page;
      let next: { afterSeq: number } | { beforeSeq: number } | null = null;
      if (page.hasMore && messages.length) {
        next =
          afterSeq !== undefined
            ? { afterSeq: messages[messages.length - 1]!.seq }
            : { beforeSeq: messages[0]!.seq };
      }
      return { conversationId: request.params.id, lastSeq: page.lastSeq, messages, next };
    },
  );
}
