/**
 * Token scopes of the API. Advertisers register ads and read their stats; operators (`admin`) may
 * do that too, and alone run reconciliations, which rewrite stored counts.
 */
export const STATS_SCOPES = ['advertiser', 'admin'] as const;
export const ADMIN_SCOPE = 'admin';
