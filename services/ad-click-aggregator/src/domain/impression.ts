import { createHmac, createSecretKey, type KeyObject, randomBytes, timingSafeEqual } from 'node:crypto';

// A signed impression id is what the ad server puts in the click URL when it shows an ad:
//   <adId>.<campaignId>.<issuedAt, base-36 seconds>.<nonce>.<signature>
// The signature is the first 22 base64url characters (132 bits) of HMAC-SHA256(key, everything
// before it). The whole id fits Fastify's 100-character path-parameter limit, so a click URL
// stays one short `GET /c/<id>`. Ids with a bad or missing signature never reach Kafka.

const ID_PART = /^[A-Za-z0-9_-]{1,24}$/;
const NONCE = /^[A-Za-z0-9_-]{8,16}$/;
const ISSUED_AT = /^[0-9a-z]{1,8}$/;
const SIGNATURE = /^[A-Za-z0-9_-]{22}$/;
const SIGNATURE_CHARS = 22;

export const IMPRESSION_MAX_LENGTH = 24 + 24 + 8 + 16 + SIGNATURE_CHARS + 4;
export const AD_ID_PATTERN = '^[A-Za-z0-9_-]{1,24}$';

export interface Impression {
  /** The full signed id: the dedup key and the raw click's identity. */
  id: string;
  adId: string;
  campaignId: string;
  /** Milliseconds since the epoch (second precision). */
  issuedAt: number;
  nonce: string;
}

export type ImpressionRejection = 'malformed' | 'bad_signature' | 'expired' | 'not_yet_valid';

export type VerifyResult = { ok: true; impression: Impression } | { ok: false; reason: ImpressionRejection };

export interface VerifyOptions {
  now: number;
  maxAgeMs: number;
  maxSkewMs: number;
}

/** The key as a KeyObject, made once: a string key is imported again by every createHmac. */
let cachedKey: { text: string; key: KeyObject } | undefined;
function hmacKey(text: string): KeyObject {
  if (cachedKey?.text !== text) cachedKey = { text, key: createSecretKey(Buffer.from(text, 'utf8')) };
  return cachedKey.key;
}

function sign(key: string, payload: string): string {
  return createHmac('sha256', hmacKey(key)).update(payload).digest('base64url').slice(0, SIGNATURE_CHARS);
}

export function signImpression(
  key: string,
  fields: { adId: string; campaignId: string; issuedAt: number; nonce?: string },
): string {
  if (!ID_PART.test(fields.adId)) throw new Error(`adId ${JSON.stringify(fields.adId)} is not a valid id`);
  if (!ID_PART.test(fields.campaignId)) throw new Error('campaignId is not a valid id');
  const nonce = fields.nonce ?? randomBytes(9).toString('base64url');
  if (!NONCE.test(nonce)) throw new Error('nonce is not valid');
  const payload = `${fields.adId}.${fields.campaignId}.${Math.floor(fields.issuedAt / 1000).toString(36)}.${nonce}`;
  return `${payload}.${sign(key, payload)}`;
}

/** Parses and checks an id: the shape first (cheap), then the signature, then its age. */
export function verifyImpression(key: string, id: string, options: VerifyOptions): VerifyResult {
  if (id.length > IMPRESSION_MAX_LENGTH) return { ok: false, reason: 'malformed' };
  const parts = id.split('.');
  if (parts.length !== 5) return { ok: false, reason: 'malformed' };
  const [adId, campaignId, issued, nonce, signature] = parts as [string, string, string, string, string];
  if (
    !ID_PART.test(adId) ||
    !ID_PART.test(campaignId) ||
    !ISSUED_AT.test(issued) ||
    !NONCE.test(nonce) ||
    !SIGNATURE.test(signature)
  ) {
    return { ok: false, reason: 'malformed' };
  }
  const expected = sign(key, id.slice(0, id.length - SIGNATURE_CHARS - 1));
  if (!timingSafeEqual(Buffer.from(expected), Buffer.from(signature))) {
    return { ok: false, reason: 'bad_signature' };
  }
  const issuedAt = Number.parseInt(issued, 36) * 1000;
  if (issuedAt > options.now + options.maxSkewMs) return { ok: false, reason: 'not_yet_valid' };
  if (options.now - issuedAt > options.maxAgeMs) return { ok: false, reason: 'expired' };
  return { ok: true, impression: { id, adId, campaignId, issuedAt, nonce } };
}
