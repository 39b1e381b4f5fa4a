import { describe, expect, it } from 'vitest';
import { isReservedAlias, normalizeUrl } from './url.ts';

describe('url normalisation', () => {
  it('keeps http(s) URLs and encodes what a Location header cannot carry', () => {
    expect(normalizeUrl('https://example.com/a?b=c#d')).toBe('https://example.com/a?b=c#d');
    expect(normalizeUrl('HTTP://Example.COM')).toBe('http://example.com/');
    expect(normalizeUrl('https://例え.jp/パス')).toBe('https://xn--r8jz45g.jp/%E3%83%91%E3%82%B9');
  });

  it('refuses other schemes, credentials and URLs that grow past the limit', () => {
    expect(() => normalizeUrl('ftp://example.com')).toThrow(/only http and https/);
    expect(() => normalizeUrl('javascript:alert(1)')).toThrow(/only http and https/);
    expect(() => normalizeUrl('https://bank.example@evil.example/')).toThrow(/credentials/);
    expect(() => normalizeUrl('not a url')).toThrow(/not a valid URL/);
    expect(() => normalizeUrl(`https://example.com/${'é'.repeat(700)}`)).toThrow(/longer than 2048/);
  });

  it('reserves the service paths in any case', () => {
    expect(isReservedAlias('API')).toBe(true);
    expect(isReservedAlias('healthz')).toBe(true);
    expect(isReservedAlias('apis')).toBe(false);
  });
});
