import { ConfigError, loadConfig } from '@sdlab/service-kit';
import { describe, expect, it } from 'vitest';
import { Config, DEV_IMPRESSION_KEY, dedupTtlS, signerEnabled } from './config.ts';

const load = (env: Record<string, string>) => loadConfig('ad-click-aggregator', Config, env);

describe('config', () => {
  it('works with no environment at all (the native stack on 127.0.0.1)', () => {
    const config = load({});
    expect(config.IMPRESSION_KEY).toBe(DEV_IMPRESSION_KEY);
    expect(dedupTtlS(config)).toBe(7 * 86_400 + 300);
    expect(config.ALLOWED_LATENESS_MS).toBe(300_000);
    expect(config.FLUSH_INTERVAL_MS).toBe(10_000);
    expect(config.RECONCILE_DRIFT_THRESHOLD).toBe(0.001);
  });

  it('turns the development signer off by itself once a real key is set', () => {
    expect(signerEnabled(load({}))).toBe(true);
    expect(signerEnabled(load({ IMPRESSION_KEY: 'a-real-secret-key-0123456789' }))).toBe(false);
    expect(
      signerEnabled(load({ IMPRESSION_KEY: 'a-real-secret-key-0123456789', IMPRESSION_SIGNER: 'on' })),
    ).toBe(true);
    expect(signerEnabled(load({ IMPRESSION_SIGNER: 'off' }))).toBe(false);
  });

  it('names every bad variable at once', () => {
    try {
      load({ IMPRESSION_KEY: 'short', IMPRESSION_SIGNER: 'maybe', CLICKS_TOPIC_PARTITIONS: '0' });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      const message = (error as ConfigError).message;
      expect(message).toContain('IMPRESSION_KEY');
      expect(message).toContain('IMPRESSION_SIGNER must be one of "auto", "on", "off"');
      expect(message).toContain('CLICKS_TOPIC_PARTITIONS');
    }
  });
});
