import { ShortenerErrors } from '../errors.ts';

export const URL_MAX_LENGTH = 2048;
/** Paths the service itself serves; an alias may not shadow them (compared case-insensitively). */
export const RESERVED_ALIASES = new Set(['api', 'docs', 'healthz', 'readyz', 'metrics']);

/**
 * The URL as it will be sent in `Location`: parsed and re-serialised, so the host is punycoded and
 * the path percent-encoded (a raw non-Latin-1 character would make the header invalid), with
 * checks the request schema cannot express.
 */
export function normalizeUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ShortenerErrors.InvalidUrl('is not a valid URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ShortenerErrors.InvalidUrl('only http and https URLs can be shortened');
  }
  if (!url.hostname) throw new ShortenerErrors.InvalidUrl('has no host');
  // `https://bank.example@evil.example/` shows a trusted name and goes elsewhere: a phishing shape.
  if (url.username || url.password) throw new ShortenerErrors.InvalidUrl('must not contain credentials');
  if (url.href.length > URL_MAX_LENGTH) {
    throw new ShortenerErrors.InvalidUrl(`is longer than ${URL_MAX_LENGTH} characters once encoded`);
  }
  return url.href;
}

export function isReservedAlias(alias: string): boolean {
  return RESERVED_ALIASES.has(alias.toLowerCase());
}
