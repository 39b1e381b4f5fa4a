import { randomBytes } from 'node:crypto';

/** A short random id: every fixture names what it creates with it, so parallel suites never meet. */
export function uniqueId(): string {
  return randomBytes(4).toString('hex');
}
