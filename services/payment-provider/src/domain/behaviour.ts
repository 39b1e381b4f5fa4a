// What the simulated processor does with one charge request. Pure: the random draw is passed in,
// so a unit test pins every branch. Test payment methods force an outcome (like a real
// provider's test cards), so a guarantee test needs no luck; `pm_card_visa` follows the rates.

export const PAYMENT_METHODS = [
  'pm_card_visa',
  'pm_card_approved',
  'pm_card_declined',
  'pm_card_timeout',
  'pm_card_unavailable',
] as const;
export type PaymentMethod = (typeof PAYMENT_METHODS)[number];

export interface Rates {
  declineRate: number;
  timeoutRate: number;
  unavailableRate: number;
}

export type Decision =
  | { kind: 'unavailable' }
  | { kind: 'charge'; status: 'succeeded' | 'declined'; declineCode: string | null; slowResponse: boolean };

/** `draw()` returns a number in [0, 1); each rate takes its own draw. */
export function decide(method: PaymentMethod, rates: Rates, draw: () => number = Math.random): Decision {
  switch (method) {
    case 'pm_card_approved':
      return { kind: 'charge', status: 'succeeded', declineCode: null, slowResponse: false };
    case 'pm_card_declined':
      return { kind: 'charge', status: 'declined', declineCode: 'card_declined', slowResponse: false };
    case 'pm_card_timeout':
      return { kind: 'charge', status: 'succeeded', declineCode: null, slowResponse: true };
    case 'pm_card_unavailable':
      return { kind: 'unavailable' };
    case 'pm_card_visa': {
      if (draw() < rates.unavailableRate) return { kind: 'unavailable' };
      const declined = draw() < rates.declineRate;
      return {
        kind: 'charge',
        status: declined ? 'declined' : 'succeeded',
        declineCode: declined ? 'insufficient_funds' : null,
        slowResponse: draw() < rates.timeoutRate,
      };
    }
  }
}

/** Processing time: uniform in [base, base + jitter]. */
export function latencyMs(base: number, jitter: number, draw: () => number = Math.random): number {
  return base + Math.floor(draw() * (jitter + 1));
}
