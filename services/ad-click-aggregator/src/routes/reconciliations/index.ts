import type { App } from '@sdlab/service-kit';
import { GRANULARITY_MS } from '../../domain/granularity.ts';
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

export default async function reconciliationRoutes(app: App) {
  app.post(
    '/reconciliations',
    {
      schema: {
        tags: ['reconciliation'],
        summary: 'Recount a period from the raw clicks and correct drifting windows (runs on a worker)',
        body: ReconcileBody,
        response: { 202: ReconcileAccepted, 400: ProblemSchema },
      },
    },
    async (request, reply) => {
      const from = Date.parse(request.body.from);
      const to = Date.parse(request.body.to);
      if (!(from < to)) throw new AdClickErrors.RangeInvalid('from must be before to');
      if (to - from > MAX_PERIOD_MS)
        throw new AdClickErrors.RangeInvalid('the period is longer than 31 days');
      const job = await app.reconcileQueue.add(
        'reconcile',
        { from: new Date(from).toISOString(), to: new Date(to).toISOString() },
        { removeOnComplete: 100, removeOnFail: 100 },
      );
      return reply.code(202).send({ id: String(job.id), status: 'queued' as const });
    },
  );

  app.get(
    '/reconciliations/:id',
    {
      schema: {
        tags: ['reconciliation'],
        summary: 'State and report of a reconciliation',
        params: ReconcileParams,
        response: { 200: ReconcileStatus, 404: ProblemSchema },
      },
    },
    async (request) => {
      const job = await app.reconcileQueue.getJob(request.params.id);
      if (!job) throw new AdClickErrors.ReconciliationNotFound(request.params.id);
      const state = await job.getState();
      return {
        id: String(job.id),
        state,
        ...(job.returnvalue ? { report: job.returnvalue } : {}),
        ...(job.failedReason ? { failedReason: job.failedReason } : {}),
      };
    },
  );
}
