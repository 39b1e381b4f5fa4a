import createError from '@fastify/error';
import { createUnavailableError } from '@sdlab/service-kit';

// The service's coded errors; the kit renders each as problem+json with its code and status.
export const AdClickErrors = {
  ImpressionMalformed: createError(
    'SDLAB_ADCLICK_IMPRESSION_MALFORMED',
    'impression: not a well-formed impression id',
    400,
  ),
  ImpressionForged: createError(
    'SDLAB_ADCLICK_IMPRESSION_FORGED',
    'impression: the signature does not match (%s)',
    403,
  ),
  ImpressionExpired: createError('SDLAB_ADCLICK_IMPRESSION_EXPIRED', 'impression: issued too long ago', 410),
  AdNotFound: createError('SDLAB_ADCLICK_AD_NOT_FOUND', 'no ad with id "%s"', 404),
  AdExists: createError('SDLAB_ADCLICK_AD_EXISTS', 'an ad with id "%s" already exists', 409),
  RangeInvalid: createError('SDLAB_ADCLICK_RANGE_INVALID', '%s', 400),
  ReconciliationNotFound: createError(
    'SDLAB_ADCLICK_RECONCILIATION_NOT_FOUND',
    'no reconciliation "%s"',
    404,
  ),
  CannotReconcile: createError('SDLAB_ADCLICK_CANNOT_RECONCILE', 'cannot reconcile this period: %s', 422),
  ReconcileBusy: createError(
    'SDLAB_ADCLICK_RECONCILE_BUSY',
    'already %s reconciliations queued or running; retry later',
    429,
  ),
  SignerDisabled: createError(
    'SDLAB_ADCLICK_SIGNER_DISABLED',
    'impression signing is off here (IMPRESSION_SIGNER); the ad server signs impressions',
    404,
  ),
  StoreUnavailable: createUnavailableError(
    'SDLAB_ADCLICK_STORE_UNAVAILABLE',
    'the %s store is unavailable; retry shortly',
  ),
};
