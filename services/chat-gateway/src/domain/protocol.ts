import Compile from 'typebox/compile';
import {
  type ClientFrame,
  type ClientFrameType,
  clientFrameSchemas,
  type ErrorCode,
  type FrameLimits,
  PROTOCOL_VERSION,
  type ServerFrame,
} from '../schemas/frames.ts';

export type Parsed =
  | { ok: true; frame: ClientFrame }
  | { ok: false; code: ErrorCode; message: string; field?: string; ref?: string };

/**
 * Turns one inbound WebSocket frame into a validated client frame, or into the error the client
 * is told about. Checks run cheapest first: size before parsing, the envelope (`v`, `type`)
 * before the type's own schema, so the error names the first thing that is wrong.
 */
export class FrameParser {
  readonly #maxBytes: number;
  readonly #validators: Record<ClientFrameType, ReturnType<typeof Compile>>;

  constructor(limits: FrameLimits & { maxFrameBytes: number }) {
    this.#maxBytes = limits.maxFrameBytes;
    const schemas = clientFrameSchemas(limits);
    this.#validators = Object.fromEntries(
      Object.entries(schemas).map(([type, schema]) => [type, Compile(schema)]),
    ) as Record<ClientFrameType, ReturnType<typeof Compile>>;
  }

  parse(data: Buffer, isBinary: boolean): Parsed {
    if (data.length > this.#maxBytes) {
      return {
        ok: false,
        code: 'frame_too_large',
        message: `a frame may be at most ${this.#maxBytes} bytes`,
      };
    }
    if (isBinary) return { ok: false, code: 'malformed', message: 'frames are JSON text, not binary' };
    let value: unknown;
    try {
      value = JSON.parse(data.toString('utf8'));
    } catch {
      return { ok: false, code: 'malformed', message: 'a frame must be one JSON object' };
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      return { ok: false, code: 'malformed', message: 'a frame must be one JSON object' };
    }
    const envelope = value as {
      v?: unknown;
      type?: unknown;
      clientMsgId?: unknown;
      conversationId?: unknown;
    };
    const ref = refOf(envelope);
    if (envelope.v !== PROTOCOL_VERSION) {
      return {
        ok: false,
        code: 'unsupported_version',
        message: `v must be ${PROTOCOL_VERSION}`,
        field: '/v',
        ...(ref ? { ref } : {}),
      };
    }
    const validator =
      typeof envelope.type === 'string' && Object.hasOwn(this.#validators, envelope.type)
        ? this.#validators[envelope.type as ClientFrameType]
        : undefined;
    if (!validator) {
      return {
        ok: false,
        code: 'invalid_frame',
        message: `type must be one of ${Object.keys(this.#validators).join(', ')}`,
        field: '/type',
        ...(ref ? { ref } : {}),
      };
    }
    if (!validator.Check(value)) {
      const [first] = validator.Errors(value);
      const field = first ? fieldOf(first) : '';
      return {
        ok: false,
        code: 'invalid_frame',
        message: `${field || 'frame'} ${first?.message ?? 'is invalid'}`,
        field,
        ...(ref ? { ref } : {}),
      };
    }
    const frame = value as ClientFrame;
    // One page per conversation: a frame naming one conversation 50 times would ask for 50 pages.
    if (frame.type === 'sync') {
      const ids = frame.conversations.map((c) => c.conversationId);
      if (new Set(ids).size !== ids.length) {
        return {
          ok: false,
          code: 'invalid_frame',
          message: '/conversations must name each conversation once',
          field: '/conversations',
        };
      }
    }
    return { ok: true, frame };
  }
}

/** The JSON text of a server frame. */
export function encode(frame: ServerFrame): string {
  return JSON.stringify(frame);
}

export function errorFrame(
  code: ErrorCode,
  message: string,
  extra: { ref?: string | undefined; field?: string | undefined; retryAfterMs?: number | undefined } = {},
): ServerFrame {
  const frame: ServerFrame = { v: 1, type: 'error', code, message };
  if (extra.ref !== undefined) frame.ref = extra.ref;
  if (extra.field) frame.field = extra.field;
  if (extra.retryAfterMs !== undefined) frame.retryAfterMs = extra.retryAfterMs;
  return frame;
}

/** Echo what the client can correlate by, but only when it is a short plain string. */
function refOf(envelope: { clientMsgId?: unknown; conversationId?: unknown }): string | undefined {
  const candidate = envelope.clientMsgId ?? envelope.conversationId;
  return typeof candidate === 'string' && /^[A-Za-z0-9_:.-]{1,64}$/.test(candidate) ? candidate : undefined;
}

function fieldOf(error: { instancePath: string; keyword: string; params: object }): string {
  if (error.keyword === 'required') {
    const missing = (error.params as { requiredProperties?: string[] }).requiredProperties?.[0];
    if (missing) return `${error.instancePath}/${missing}`;
  }
  if (error.keyword === 'additionalProperties') {
    const extra = (error.params as { additionalProperties?: string[] }).additionalProperties?.[0];
    if (extra) return `${error.instancePath}/${extra}`;
  }
  return error.instancePath;
}
