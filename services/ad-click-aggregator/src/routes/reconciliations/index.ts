import type { App } from '@sdlab/service-kit';
import { BEARER_SECURITY, type JwtVerifier, requireToken } from '@sdlab/service-kit/auth';
import { isPostgresUnavailable } from '@sdlab/service-kit/postgres';
import type { Config } from '../../config.ts';
import { GRANULARITY_MS } from '../../domain/granularity.ts';
import { assertReconcilable } from '../../domain/reconcile-guard.ts';
import { admitReconciliation } from '../../domain/reconcile-job.ts';
import { ADMIN_SCOPE } from '../../domain/scopes.ts';
import { AdClickErrors } from '../../errors.ts';
import { ProblemSchema } from '../../schemas/common.ts';
import {
  ReconcileAccepted,
  ReconcileBody,
  ReconcileParams,
  ReconcileStatus,
} from '../../schemas/reconciliations.ts';

/** Longest period one on-demand reconciliation may cover. */
const MAX_PERIOD_MS = 31 * GRANULARITY_MS.day;

export default async function reconciliationRoutes(
  app: App,
  opts: { config: Config; verifier: JwtVerifier },
) {
  const admin = requireToken(opts.verifier, { scope: ADMIN_SCOPE });
  app.post(
    '/reconciliations',
    {
      preHandler: admin,
      schema: {
        security: BEARER_SECURITY,
        tags: ['reconciliation'],
        summary: 'Recount a period from the raw clicks and correct drifting windows (runs on a worker)',
        body: ReconcileBody,
        response: {
          202: ReconcileAccepted,
          400: ProblemSchema,
          401: ProblemSchema,
          403: ProblemSchema,
          422: ProblemSchema,
          429: ProblemSchema,
        },
      },
    },
    async (request, reply) => {
      const from = Date.parse(request.body.from);
      const to = Date.parse(request.body.to);
      if (!(from < to)) throw new AdClickErrors.RangeInvalid('from must be before to');
      if (to - from > MAX_PERIOD_MS)
        throw new AdClickErrors.RangeInvalid('the period is longer than 31 days');
      const storeDown = (error: unknown): never => {
        throw isPostgresUnavailable(error)
          ? new AdClickErrors.StoreUnavailable('postgres', { cause: error })
          : error;
      };
      await assertReconcilable(app.pg, { from, to }).catch(storeDown);
      const period = { from: new Date(from).toISOString(), to: new Date(to).toISOString() };
      const job = await admitReconciliation(
        app.pg,
        app.reconcileQueue,
        opts.config.RECONCILE_QUEUE_MAX,
        period,
      ).catch(storeDown);
      return reply.code(202).send({ id: String(job.id), status: 'queued' as const });
    },
  );

  app.get(
    '/reconciliations/:id',
    {
      preHandler: admin,
      schema: {
        security: BEARER_SECURITY,
        tags: ['reconciliation'],
        summary: 'State and report of a reconciliation',
        params: ReconcileParams,
        response: { 200: ReconcileStatus, 401: ProblemSchema, 403: ProblemSchema, 404: ProblemSchema },
      },
    },
    async (request) => {
      let job = await app.reconcileQueue.getJob(request.params.id);
      if (!job) throw new AdClickErrors.ReconciliationNotFound(request.params.id);
      const state = await job.getState();
      // A job that finished between the two reads was read without its outcome (it answered
      // `completed` with no report): read it again, now that it is done.
      if ((state === 'completed' || state === 'failed') && job.finishedOn === undefined) {
        job = (await app.reconcileQueue.getJob(request.params.id)) ?? job;
      }
      return {
        id: String(job.id),
        state,
        ...(job.returnvalue ? { report: job.returnvalue } : {}),
        ...(job.failedReason ? { failedReason: job.failedReason } : {}),
      };
    },
  );
}
