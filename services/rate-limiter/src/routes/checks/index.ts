import { trace } from '@opentelemetry/api';
import { quotaOf, setRateLimitHeaders } from '@sdlab/rate-limit';
import type { App } from '@sdlab/service-kit';
import Type from 'typebox';
import { RateLimiterErrors } from '../../errors.ts';
import {
  BatchResultSchema,
  batchSchema,
  CheckSchema,
  DecisionHeaders,
  DecisionSchema,
} from '../../schemas/checks.ts';
import { ProblemSchema } from '../../schemas/common.ts';
import { RateLimiterAttributes, rateLimiterMetrics } from '../../telemetry.ts';

export interface CheckRoutesOptions {
  batchMax: number;
}

/**
 * The decision API. A denied check is still a 200: the service answered the question, and a 429
 * would read as the decision service throttling its own caller. The answer is in `allowed`; the
 * same RateLimit headers a limited route would send come along, so a gateway can copy them.
 */
export async function checkRoutes(app: App, options: CheckRoutesOptions): Promise<void> {
  const problems = { 400: ProblemSchema, 422: ProblemSchema };
  const { batchSize } = rateLimiterMetrics(app.kit.metrics);

  app.post(
    '/v1/checks',
    {
      schema: {
        tags: ['checks'],
        summary: 'Check one key against a rule (and charge it when admitted)',
        body: CheckSchema,
        response: {
          200: Type.Object(DecisionSchema.properties, {
            description: 'The decision',
            headers: DecisionHeaders,
          }),
          ...problems,
        },
      },
    },
    // Not async: the answer is sent from the limiter's callback, which saves the handler's promise,
    // the check's promise and a microtask turn on every check (the service's hot path).
    (request, reply) => {
      const { key, rule, cost } = request.body;
      assertCheckable(app, undefined, rule, cost);
      app.limiter.decide(key, rule, cost, (refused, decision) => {
        if (!decision) {
          // An error goes to the error handler (problem+json); the typed send() knows only bodies.
          reply.send(refused as never);
          return;
        }
        setRateLimitHeaders(reply, decision);
        reply.header('x-ratelimit-source', decision.source);
        reply.send(decision);
      });
    },
  );

  app.post(
    '/v1/checks/batch',
    {
      schema: {
        tags: ['checks'],
        summary: `Check up to ${options.batchMax} keys in one call (one pipelined Redis round trip)`,
        body: batchSchema(options.batchMax),
        response: { 200: BatchResultSchema, ...problems },
      },
    },
    async (request) => {
      const { checks } = request.body;
      // The field's path is built only for a check that fails (a string per check otherwise).
      for (let i = 0; i < checks.length; i++) assertCheckable(app, i, checks[i]!.rule, checks[i]!.cost);
      batchSize.observe(checks.length);
      trace.getActiveSpan()?.setAttribute(RateLimiterAttributes.BATCH_SIZE, checks.length);
      return { results: await app.limiter.checkMany(checks) };
    },
  );
}

/**
 * Names the field of a check that can never be decided, before anything reaches Redis: `body.…`
 * for a single check, `body.checks[index].…` for one of a batch.
 */
function assertCheckable(app: App, index: number | undefined, ruleName: string, cost: number): void {
  const rule = app.limiter.rule(ruleName);
  if (!rule) throw new RateLimiterErrors.UnknownRule(`${fieldOf(index)}.rule`, ruleName);
  const { limit } = quotaOf(rule);
  if (cost > limit)
    throw new RateLimiterErrors.CostExceedsLimit(`${fieldOf(index)}.cost`, cost, ruleName, limit);
}

function fieldOf(index: number | undefined): string {
  return index === undefined ? 'body' : `body.checks[${index}]`;
}
