import { TokenBucketRuleSchema, WindowRuleSchema } from '@sdlab/rate-limit';
import Type from 'typebox';

export const RulesListSchema = Type.Object({
  rules: Type.Array(Type.Union([TokenBucketRuleSchema, WindowRuleSchema])),
  loadedAt: Type.String({ format: 'date-time' }),
});
