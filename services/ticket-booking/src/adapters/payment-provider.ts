// The module object, not a named import: the HTTP instrumentation patches `http.request` on it,
// and a binding taken at import time would keep the unpatched function (no client span, and the
// trace would not continue at the other side).
import http from 'node:http';

// The payment provider's HTTP API as this service uses it. node:http rather than fetch: the
// kit's HTTP instrumentation sees it, so the charge is a child span and the provider continues
// the trace. Errors say whether the outcome is known: a timeout or a dropped connection after
// the request was sent may have charged, and only a retry with the same key can tell.

export interface Payment {
  id: string;
  status: 'succeeded' | 'declined' | 'refunded';
  amountCents: number;
  reference: string;
  declineCode: string | null;
}

export class PaymentUnknownError extends Error {
  /** The charge may or may not have happened: retry with the same idempotency key. */
  readonly retriable = true;
}

export class PaymentRejectedError extends Error {
  readonly retriable = false;
}

export interface PaymentProviderOptions {
  baseUrl: string;
  timeoutMs: number;
  currency: string;
}

export class PaymentProvider {
  readonly #o: PaymentProviderOptions;

  constructor(options: PaymentProviderOptions) {
    this.#o = options;
  }

  async charge(input: {
    idempotencyKey: string;
    amountCents: number;
    reference: string;
    paymentMethod: string;
  }): Promise<Payment> {
    const { status, body } = await this.#call('POST', '/payments', {
      headers: { 'idempotency-key': input.idempotencyKey },
      body: {
        amountCents: input.amountCents,
        currency: this.#o.currency,
        reference: input.reference,
        paymentMethod: input.paymentMethod,
      },
    });
    if (status === 200 || status === 201) return body as Payment;
    if (status >= 500 || status === 429) throw new PaymentUnknownError(`provider answered ${status}`);
    throw new PaymentRejectedError(`provider refused the charge (${status}): ${JSON.stringify(body)}`);
  }

  /** The charge made under this key, if any (reconciliation after a lost answer). */
  async findByIdempotencyKey(key: string): Promise<Payment | undefined> {
    const { status, body } = await this.#call(
      'GET',
      `/payments?idempotencyKey=${encodeURIComponent(key)}`,
      {},
    );
    if (status !== 200) throw new PaymentUnknownError(`provider answered ${status}`);
    return (body as { data: Payment[] }).data[0];
  }

  async refund(paymentId: string): Promise<Payment> {
    const { status, body } = await this.#call(
      'POST',
      `/payments/${encodeURIComponent(paymentId)}/refunds`,
      {},
    );
    if (status === 200 || status === 201) return body as Payment;
    if (status >= 500) throw new PaymentUnknownError(`provider answered ${status}`);
    throw new PaymentRejectedError(`provider refused the refund (${status}): ${JSON.stringify(body)}`);
  }

  #call(
    method: string,
    path: string,
    options: { headers?: Record<string, string>; body?: unknown },
  ): Promise<{ status: number; body: unknown }> {
    const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
    return new Promise((resolve, reject) => {
      const req = http.request(
        new URL(path, this.#o.baseUrl),
        {
          method,
          headers: {
            ...options.headers,
            ...(payload
              ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) }
              : {}),
          },
          timeout: this.#o.timeoutMs,
        },
        (res) => {
          let raw = '';
          res.setEncoding('utf8');
          res.on('data', (chunk) => {
            raw += chunk;
          });
          res.on('end', () => {
            try {
              resolve({ status: res.statusCode ?? 0, body: raw ? JSON.parse(raw) : undefined });
            } catch {
              reject(new PaymentUnknownError(`unreadable answer (${res.statusCode})`));
            }
          });
          res.on('error', (err) => reject(new PaymentUnknownError(err.message)));
        },
      );
      req.on('timeout', () =>
        req.destroy(new PaymentUnknownError(`no answer within ${this.#o.timeoutMs} ms`)),
      );
      req.on('error', (err) =>
        reject(err instanceof PaymentUnknownError ? err : new PaymentUnknownError(err.message)),
      );
      req.end(payload);
    });
  }
}
