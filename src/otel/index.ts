// `session-fetch/otel`: a session's calls, waits and replays as OpenTelemetry spans and metrics (`otel()`), or
// told to an observer of your own (`observe()`). The only entry point that imports `@opentelemetry/api`.
export type { Instrumentation } from '../core/options.js'
export {
  observe,
  type SessionCallOutcome,
  type SessionCallRecord,
  type SessionCallTrigger,
  type SessionObserver,
} from './observe.js'
export { type OtelOptions, otel, SCOPE } from './otel.js'
