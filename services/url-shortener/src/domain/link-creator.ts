import { createHash } from 'node:crypto';
import { ShortenerErrors } from '../errors.ts';
import type { ServiceMetrics } from '../telemetry.ts';
import type { IdAllocator } from './id-allocator.ts';
import type { LinkCache } from './link-cache.ts';
import type { LinksRepository } from './links-repository.ts';
import type { CodeScrambler } from './scramble.ts';
import { isReservedAlias, normalizeUrl } from './url.ts';

export interface CreateLinkInput {
  url: string;
  alias?: string;
  expiresAt?: string;
}

/** The create response; also what an Idempotency-Key replays. */
export interface LinkView {
  code: string;
  shortUrl: string;
  url: string;
  createdAt: string;
  expiresAt: string | null;
}

/** A generated code can only be taken by a custom alias of the same shape; a few tries suffice. */
const MAX_CODE_ATTEMPTS = 5;

export class LinkCreator {
  readonly #ids: IdAllocator;
  readonly #scrambler: CodeScrambler;
  readonly #links: LinksRepository;
  readonly #cache: LinkCache;
  readonly #metrics: ServiceMetrics;
  readonly #baseUrl: string;
  readonly #idempotencyTtlS: number;

  constructor(options: {
    ids: IdAllocator;
    scrambler: CodeScrambler;
    links: LinksRepository;
    cache: LinkCache;
    metrics: ServiceMetrics;
    publicBaseUrl: string;
    idempotencyTtlS: number;
  }) {
    this.#ids = options.ids;
    this.#scrambler = options.scrambler;
    this.#links = options.links;
    this.#cache = options.cache;
    this.#metrics = options.metrics;
    this.#baseUrl = options.publicBaseUrl.replace(/\/+$/, '');
    this.#idempotencyTtlS = options.idempotencyTtlS;
  }

  async create(
    input: CreateLinkInput,
    idempotencyKey?: string,
  ): Promise<{ link: LinkView; replayed: boolean }> {
    const url = normalizeUrl(input.url);
    if (input.alias !== undefined && isReservedAlias(input.alias)) {
      throw new ShortenerErrors.AliasReserved(input.alias);
    }
    const expiresAt = input.expiresAt === undefined ? null : new Date(input.expiresAt);
    if (expiresAt !== null && expiresAt.getTime() <= Date.now()) throw new ShortenerErrors.ExpiryInPast();
    // The fingerprint is of the normalised request, so a retry that differs only in spelling the
    // same URL still replays. Only a create with an Idempotency-Key has a record to compare it with.
    const idempotency =
      idempotencyKey === undefined
        ? undefined
        : {
            key: idempotencyKey,
            requestHash: createHash('sha256')
              .update(JSON.stringify([url, input.alias ?? null, expiresAt?.toISOString() ?? null]))
              .digest('hex'),
          };

    for (let attempt = 1; attempt <= MAX_CODE_ATTEMPTS; attempt++) {
      const code = input.alias ?? this.#scrambler.codeFor(await this.#ids.next());
      const createdAt = new Date();
      const link: LinkView = {
        code,
        shortUrl: `${this.#baseUrl}/${code}`,
        url,
        createdAt: createdAt.toISOString(),
        expiresAt: expiresAt?.toISOString() ?? null,
      };
      const outcome = await this.#links.insert(
        { code, url, isAlias: input.alias !== undefined, createdAt, expiresAt },
        idempotency && { ...idempotency, ttlSeconds: this.#idempotencyTtlS, response: link },
      );
      switch (outcome.kind) {
        case 'created':
          this.#metrics.linksCreated.inc({ kind: input.alias === undefined ? 'generated' : 'alias' });
          // After the commit, never before: a failed insert must not leave a cache entry behind.
          await this.#cache.remember(code, { url, expiresAt: expiresAt?.getTime() ?? null });
          return { link, replayed: false };
        case 'replay':
          if (outcome.requestHash !== idempotency?.requestHash)
            throw new ShortenerErrors.IdempotencyKeyReused();
          this.#metrics.idempotentReplays.inc();
          return { link: outcome.response as LinkView, replayed: true };
        case 'code-taken':
          if (input.alias !== undefined) throw new ShortenerErrors.AliasTaken(input.alias);
          this.#metrics.codeCollisions.inc();
      }
    }
    throw new ShortenerErrors.CodeCollisions(MAX_CODE_ATTEMPTS);
  }
}
