// The module object, not a named import: the HTTP instrumentation patches `http.request` on it,
// and a binding taken at import time would keep the unpatched function (no client span, and the
// trace would not continue at the other side).
import http from 'node:http';
import type { Payment as ProviderPayment } from '@sdlab/service-kit/payment-contract';

// The payment provider's HTTP API as this service uses it. node:http rather than fetch: the
// kit's HTTP instrumentation sees it, so the charge is a child span and the provider continues
// the trace. Errors say whether the outcome is known: a timeout or a dropped connection after
// the request was sent may have charged, and only a retry with the same key can tell.

/** What this service reads of the provider's charge record. */
export type Payment = Pick<
  ProviderPayment,
  'id' | 'status' | 'amountCents' | 'currency' | 'reference' | 'declineCode'
>;

export class PaymentUnknownError extends Error {
  /** The charge may or may not have happened: retry with the same idempotency key. */
  readonly retriable = true;
}

/**
 * The provider already holds a charge under this key that differs from this request (409/422):
 * something was charged, and asking again with the same request cannot change the answer. The
 * reconciler looks the charge up under the key instead.
 */
export class PaymentKeyConflictError extends PaymentUnknownError {}

export class PaymentRejectedError extends Error {
  readonly retriable = false;
}

export interface PaymentProviderOptions {
  baseUrl: string;
  /** The merchant's key at the provider. */
  apiKey: string;
  /** Each call, connection to last byte, ends by then: the outcome is then unknown. */
  timeoutMs: number;
  currency: string;
  /** A larger answer is cut off (outcome unknown): the provider's answers are small JSON. */
  maxResponseBytes: number;
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
    if (status === 409 || status === 422)
      throw new PaymentKeyConflictError(`provider holds another charge under this key (${status})`);
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

  /** The provider's own record of a payment (a webhook is checked against it). */
  async get(paymentId: string): Promise<Payment | undefined> {
    const { status, body } = await this.#call('GET', `/payments/${encodeURIComponent(paymentId)}`, {});
    if (status === 404) return undefined;
    if (status !== 200) throw new PaymentUnknownError(`provider answered ${status}`);
    return body as Payment;
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
    const { timeoutMs, maxResponseBytes } = this.#o;
    return new Promise((resolve, reject) => {
      const req = http.request(
        new URL(path, this.#o.baseUrl),
        {
          method,
          headers: {
            ...options.headers,
            authorization: `Bearer ${this.#o.apiKey}`,
            ...(payload
              ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) }
              : {}),
          },
          timeout: timeoutMs,
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (chunk: Buffer) => {
            size += chunk.length;
            if (size > maxResponseBytes) {
              req.destroy(new PaymentUnknownError(`answer larger than ${maxResponseBytes} bytes`));
              return;
            }
            chunks.push(chunk);
          });
          res.on('end', () => {
            clearTimeout(deadline);
            const raw = Buffer.concat(chunks).toString('utf8');
            try {
              resolve({ status: res.statusCode ?? 0, body: raw ? JSON.parse(raw) : undefined });
            } catch {
              reject(new PaymentUnknownError(`unreadable answer (${res.statusCode})`));
            }
          });
          res.on('error', (err) =>
            reject(err instanceof PaymentUnknownError ? err : new PaymentUnknownError(err.message)),
          );
        },
      );
      // `timeout` above is the socket's idle time; a provider that trickles bytes never goes idle,
      // so the whole call also has a deadline.
      const deadline = setTimeout(
        () => req.destroy(new PaymentUnknownError(`no complete answer within ${timeoutMs} ms`)),
        timeoutMs,
      );
      req.on('timeout', () => req.destroy(new PaymentUnknownError(`no answer within ${timeoutMs} ms`)));
      req.on('error', (err) => {
        clearTimeout(deadline);
        reject(err instanceof PaymentUnknownError ? err : new PaymentUnknownError(err.message));
      });
      req.on('close', () => clearTimeout(deadline));
      req.end(payload);
    });
  }
}
