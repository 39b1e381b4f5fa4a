export {
  applyRenamedVariables,
  BaseConfig,
  ConfigError,
  loadConfig,
  type RenamedVariable,
} from './config.ts';
export {
  type App,
  createService,
  type Kit,
  type KitHost,
  runIfMain,
  runService,
  type Service,
  type ServiceOptions,
} from './create-service.ts';
export { AuthErrors, createUnavailableError, KitErrors, type RetryLater } from './errors.ts';
export { LATENCY_BUCKETS } from './metrics.ts';
export { PROBLEM_CONTENT_TYPE, type Problem, ProblemSchema, sendProblem } from './problem-details.ts';
export { type CheckResult, Readiness, type ReadinessCheck } from './readiness.ts';
export { execPipeline, type PipelineReplies, type QueuedPipeline } from './redis-pipeline-span.ts';
export { Resources } from './resources.ts';
export { DEV_MODE_VARIABLE, type RunMode, runMode } from './run-mode.ts';
export {
  startSpanIfSampled,
  telemetryStarted,
  traceContextCarrier,
  untraced,
  withTraceContext,
} from './trace-context.ts';
