import type { FastifyInstance } from 'fastify';
import { expect } from 'vitest';
import { ADMIN } from './auth.ts';

export interface AdFields {
  adId: string;
  campaignId: string;
  targetUrl: string;
}

/** Registers an ad through the API as the admin; the test fails unless it was created (201). */
export async function createAd(app: Pick<FastifyInstance, 'inject'>, ad: AdFields): Promise<void> {
  const created = await app.inject({ method: 'POST', headers: ADMIN, url: '/ads', payload: ad });
  expect(created.statusCode).toBe(201);
}
