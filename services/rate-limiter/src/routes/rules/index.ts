import type { App } from '@sdlab/service-kit';
import { RulesListSchema } from '../../schemas/rules.ts';

export async function ruleRoutes(app: App): Promise<void> {
  app.get(
    '/v1/rules',
    {
      schema: {
        tags: ['rules'],
        summary: 'The rules in force (reloaded on SIGHUP and when the rules file changes)',
        response: { 200: RulesListSchema },
      },
    },
    async () => ({ rules: app.rules.rules, loadedAt: app.rules.loadedAt.toISOString() }),
  );
}
