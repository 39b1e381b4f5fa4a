import createError from '@fastify/error';

// The gateway's coded errors for its REST API; the kit renders each as problem+json with its
// code and status. WebSocket frames carry their own short codes (schemas/frames.ts, ErrorCode).
export const ChatErrors = {
  Unauthorized: createError('SDLAB_CHAT_UNAUTHORIZED', 'a valid bearer token is required: %s', 401),
  TokenEndpointDisabled: createError(
    'SDLAB_CHAT_TOKEN_ENDPOINT_DISABLED',
    'the local token endpoint is disabled (TOKEN_ENDPOINT_ENABLED=false)',
    404,
  ),
  ConversationNotFound: createError(
    'SDLAB_CHAT_CONVERSATION_NOT_FOUND',
    'no conversation "%s" that you are a member of',
    404,
  ),
  NotAGroup: createError('SDLAB_CHAT_NOT_A_GROUP', 'members of a direct conversation cannot change', 409),
  NotOwner: createError('SDLAB_CHAT_NOT_OWNER', 'only the group owner may %s', 403),
  OwnerCannotLeave: createError(
    'SDLAB_CHAT_OWNER_CANNOT_LEAVE',
    'the owner cannot leave the group; remove the other members first',
    409,
  ),
  GroupFull: createError('SDLAB_CHAT_GROUP_FULL', 'memberIds: a group holds at most %d members', 409),
  SelfConversation: createError(
    'SDLAB_CHAT_SELF_CONVERSATION',
    'peerId: cannot start a conversation with yourself',
    400,
  ),
  MemberNotFound: createError(
    'SDLAB_CHAT_MEMBER_NOT_FOUND',
    '"%s" is not a member of this conversation',
    404,
  ),
  CursorConflict: createError('SDLAB_CHAT_CURSOR_CONFLICT', 'afterSeq and beforeSeq cannot be combined', 400),
  WebSocketUpgradeRequired: createError(
    'SDLAB_CHAT_UPGRADE_REQUIRED',
    'this endpoint speaks WebSocket: send an Upgrade request',
    426,
  ),
};
