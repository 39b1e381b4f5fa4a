export { ProblemSchema } from '@sdlab/service-kit';
