import Type from 'typebox';
import { Timestamp } from './common.ts';

export const ReconcileBody = Type.Object(
  {
    from: Type.String({ format: 'date-time' }),
    to: Type.String({ format: 'date-time' }),
  },
  { additionalProperties: false },
);

export const ReconcileAccepted = Type.Object({ id: Type.String(), status: Type.Literal('queued') });

export const ReconcileParams = Type.Object({
  id: Type.String({ minLength: 1, maxLength: 64, pattern: '^[0-9A-Za-z:_-]+$' }),
});

const GranularityReport = Type.Object({
  windowsChecked: Type.Integer(),
  windowsCorrected: Type.Integer(),
  maxDrift: Type.Number(),
  streamClicks: Type.Integer(),
  batchClicks: Type.Integer(),
});

export const ReconcileStatus = Type.Object({
  id: Type.String(),
  state: Type.String({ description: 'BullMQ job state: waiting, active, completed, failed, ...' }),
  report: Type.Optional(
    Type.Object({
      runId: Type.Integer(),
      from: Timestamp,
      to: Timestamp,
      granularities: Type.Object({
        minute: GranularityReport,
        hour: GranularityReport,
        day: GranularityReport,
      }),
      corrections: Type.Array(
        Type.Object({
          granularity: Type.String(),
          adId: Type.String(),
          windowStart: Timestamp,
          stream: Type.Integer(),
          batch: Type.Integer(),
          drift: Type.Number(),
        }),
      ),
    }),
  ),
  failedReason: Type.Optional(Type.String()),
});
