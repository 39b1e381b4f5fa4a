import { describe, expect, it } from 'vitest';
import { decide, latencyMs } from './behaviour.ts';

const rates = { declineRate: 0.5, timeoutRate: 0.5, unavailableRate: 0.5 };
const always = (value: number) => () => value;

describe('decide', () => {
  it('forces the outcome of the test payment methods whatever the rates', () => {
    expect(decide('pm_card_declined', rates)).toMatchObject({ status: 'declined', slowResponse: false });
    expect(decide('pm_card_timeout', rates)).toMatchObject({ status: 'succeeded', slowResponse: true });
    expect(decide('pm_card_unavailable', rates)).toEqual({ kind: 'unavailable' });
  });

  it('applies each rate with its own draw for a normal card', () => {
    expect(decide('pm_card_visa', rates, always(0.49))).toEqual({ kind: 'unavailable' });
    expect(decide('pm_card_visa', rates, always(0.5))).toEqual({
      kind: 'charge',
      status: 'succeeded',
      declineCode: null,
      slowResponse: false,
    });
    const draws = [0.9, 0.1, 0.9];
    expect(decide('pm_card_visa', rates, () => draws.shift()!)).toMatchObject({
      status: 'declined',
      declineCode: 'insufficient_funds',
      slowResponse: false,
    });
  });

  it('pm_card_approved is charged at once whatever the rates (what a scripted tour needs)', () => {
    const worst = { declineRate: 1, timeoutRate: 1, unavailableRate: 1 };
    expect(decide('pm_card_approved', worst, always(0))).toEqual({
      kind: 'charge',
      status: 'succeeded',
      declineCode: null,
      slowResponse: false,
    });
  });

  it('never declines or delays at rate 0, always at rate 1', () => {
    const zero = { declineRate: 0, timeoutRate: 0, unavailableRate: 0 };
    expect(decide('pm_card_visa', zero, always(0))).toMatchObject({
      status: 'succeeded',
      slowResponse: false,
    });
    const one = { declineRate: 1, timeoutRate: 1, unavailableRate: 0 };
    expect(decide('pm_card_visa', one, always(0.999))).toMatchObject({
      status: 'declined',
      slowResponse: true,
    });
  });
});

describe('latencyMs', () => {
  it('stays within base and base + jitter', () => {
    expect(latencyMs(30, 40, always(0))).toBe(30);
    expect(latencyMs(30, 40, always(0.9999))).toBe(70);
    expect(latencyMs(0, 0, always(0.5))).toBe(0);
  });
});
