import { randomBytes } from 'node:crypto';
import type { App } from '@sdlab/service-kit';
import { BEARER_SECURITY, type JwtVerifier, requireToken } from '@sdlab/service-kit/auth';
import { isPostgresUnavailable } from '@sdlab/service-kit/postgres';
import { type Config, signerEnabled } from '../../config.ts';
import { GRANULARITY_MS, type Granularity } from '../../domain/granularity.ts';
import { signImpression } from '../../domain/impression.ts';
import { STATS_SCOPES } from '../../domain/scopes.ts';
import { AdClickErrors } from '../../errors.ts';
import {
  AdParams,
  AdSchema,
  ClicksQuery,
  ClicksSchema,
  CreateAdBody,
  SignBody,
  SignedImpressionsSchema,
} from '../../schemas/ads.ts';
import { ProblemSchema } from '../../schemas/common.ts';

/** Most buckets one query may span (a week of minutes). */
export const MAX_BUCKETS = 10_080;

export default async function adRoutes(
  app: App,
  opts: { config: Config; now: () => number; verifier: JwtVerifier },
) {
  const { config } = opts;
  // Anyone who can register an ad chooses where /c/... redirects: without this, an open redirect.
  const advertiser = requireToken(opts.verifier, { anyScope: STATS_SCOPES });

  app.post(
    '/ads',
    {
      preHandler: advertiser,
      schema: {
        security: BEARER_SECURITY,
        tags: ['ads'],
        summary: 'Register an ad and its landing page',
        body: CreateAdBody,
        response: {
          201: AdSchema,
          400: ProblemSchema,
          401: ProblemSchema,
          403: ProblemSchema,
          409: ProblemSchema,
          503: ProblemSchema,
        },
      },
    },
    async (request, reply) => {
      const adId = request.body.adId ?? randomBytes(8).toString('base64url');
      const ad = await app.ads
        .create({ adId, campaignId: request.body.campaignId, targetUrl: request.body.targetUrl })
        .catch((error: unknown) => {
          throw isPostgresUnavailable(error)
            ? new AdClickErrors.StoreUnavailable('postgres', { cause: error })
            : error;
        });
      if (!ad) throw new AdClickErrors.AdExists(adId);
      app.adDirectory.forget(adId);
      return reply.code(201).send(ad);
    },
  );

  app.get(
    '/ads/:adId',
    {
      preHandler: advertiser,
      schema: {
        security: BEARER_SECURITY,
        tags: ['ads'],
        summary: 'An ad',
        params: AdParams,
        response: { 200: AdSchema, 401: ProblemSchema, 403: ProblemSchema, 404: ProblemSchema },
      },
    },
    async (request) => {
      const ad = await app.ads.get(request.params.adId);
      if (!ad) throw new AdClickErrors.AdNotFound(request.params.adId);
      return ad;
    },
  );

  app.post(
    '/ads/:adId/impressions',
    {
      preHandler: advertiser,
      schema: {
        security: BEARER_SECURITY,
        tags: ['ads'],
        summary: 'Mint signed impression ids (development only: the ad server does this)',
        description:
          'On only while IMPRESSION_SIGNER allows it (by default: while the key is the public development key).',
        params: AdParams,
        body: SignBody,
        response: {
          200: SignedImpressionsSchema,
          401: ProblemSchema,
          403: ProblemSchema,
          404: ProblemSchema,
        },
      },
    },
    async (request) => {
      if (!signerEnabled(config)) throw new AdClickErrors.SignerDisabled();
      const ad = await app.ads.get(request.params.adId);
      if (!ad) throw new AdClickErrors.AdNotFound(request.params.adId);
      const issuedAt = opts.now();
      const impressions = Array.from({ length: request.body.count ?? 1 }, () => {
        const id = signImpression(config.IMPRESSION_KEY, {
          adId: ad.adId,
          campaignId: ad.campaignId,
          issuedAt,
        });
        return { id, clickUrl: `/c/${id}` };
      });
      return { impressions };
    },
  );

  app.get(
    '/ads/:adId/clicks',
    {
      preHandler: advertiser,
      schema: {
        security: BEARER_SECURITY,
        tags: ['queries'],
        summary: 'Clicks of one ad per minute, hour or day over [from, to)',
        description: `Reads the pre-computed roll-up of that granularity; at most ${MAX_BUCKETS} windows per query.`,
        params: AdParams,
        querystring: ClicksQuery,
        response: {
          200: ClicksSchema,
          400: ProblemSchema,
          401: ProblemSchema,
          403: ProblemSchema,
          503: ProblemSchema,
        },
      },
    },
    async (request) => {
      const g = (request.query.granularity ?? 'minute') as Granularity;
      const from = Date.parse(request.query.from);
      const to = Date.parse(request.query.to);
      if (!(from < to)) throw new AdClickErrors.RangeInvalid('from must be before to');
      if ((to - from) / GRANULARITY_MS[g] > MAX_BUCKETS) {
        throw new AdClickErrors.RangeInvalid(`the range spans more than ${MAX_BUCKETS} ${g} windows`);
      }
      const [buckets, finalBefore] = await Promise.all([
        app.clickQueries.clicksForAd(request.params.adId, g, from, to),
        app.clickQueries.finalBefore(),
      ]).catch((error: unknown) => {
        throw isPostgresUnavailable(error)
          ? new AdClickErrors.StoreUnavailable('postgres', { cause: error })
          : error;
      });
      return {
        adId: request.params.adId,
        granularity: g,
        from: new Date(from).toISOString(),
        to: new Date(to).toISOString(),
        total: buckets.reduce((n, b) => n + b.clicks, 0),
        buckets: buckets.map((b) => ({ start: new Date(b.start).toISOString(), clicks: b.clicks })),
        finalBefore: finalBefore === null ? null : new Date(finalBefore).toISOString(),
      };
    },
  );
}
