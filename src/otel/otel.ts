import {
  type Attributes,
  type Context,
  type Counter,
  context,
  type Histogram,
  type MeterProvider,
  metrics,
  SpanKind,
  SpanStatusCode,
  type TracerProvider,
  trace,
} from '@opentelemetry/api'
import type { Instrumentation } from '../core/options.js'
import { observe, type SessionCallRecord } from './observe.js'

declare const __SESSION_FETCH_VERSION__: string | undefined

/** Options of {@link otel}. */
export interface OtelOptions {
  /**
   * Where the spans go.
   * @default the global tracer provider (`trace.getTracerProvider()`), looked up as each span starts
   */
  tracerProvider?: TracerProvider
  /**
   * Where the metrics go.
   * @default the global meter provider (`metrics.getMeterProvider()`), looked up again once it is registered
   */
  meterProvider?: MeterProvider
}

/** The instrumentation scope's name: the tracer's and the meter's. */
export const SCOPE = 'session-fetch'

// Seconds: a refresh takes tens to hundreds of milliseconds, and its retries seconds (OpenTelemetry's advice
// for HTTP client durations).
const SECONDS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10]

interface Instruments {
  provider: MeterProvider
  refreshes: Counter
  refreshDuration: Histogram
  logins: Counter
  replays: Counter
  waitDuration: Histogram
}

function instrumentsOf(provider: MeterProvider, version: string | undefined): Instruments {
  const meter = provider.getMeter(SCOPE, version)
  const advice = { explicitBucketBoundaries: SECONDS }
  return {
    provider,
    refreshes: meter.createCounter('session_fetch.refreshes', {
      description: 'Refresh calls made to the server',
      unit: '{refresh}',
    }),
    refreshDuration: meter.createHistogram('session_fetch.refresh.duration', {
      description: 'How long refresh calls took, retries included',
      unit: 's',
      advice,
    }),
    logins: meter.createCounter('session_fetch.logins', {
      description: 'Login calls made to the server (login() and unattended logins)',
      unit: '{login}',
    }),
    replays: meter.createCounter('session_fetch.replays', {
      description: 'Requests refused with a 401 and sent again with a new token',
      unit: '{request}',
    }),
    waitDuration: meter.createHistogram('session_fetch.wait.duration', {
      description: 'How long requests waited for a token (only those that waited)',
      unit: 's',
      advice,
    }),
  }
}

/**
 * OpenTelemetry traces and metrics of a session, for the `instrumentation` option of `createSessionFetch`,
 * `sessionPool` and `cookieSessions`. `@opentelemetry/api` (1.3 or later) is an optional peer dependency that only
 * this entry point imports.
 *
 * Spans `session-fetch login|refresh|logout` (kind CLIENT, one per session call with its retries, parented to the
 * context of the call that caused it) with `session_fetch.trigger`, `session_fetch.waiters`, `server.address`,
 * `server.port`, `http.response.status_code`, and on failure status ERROR with `error.type`. Span events
 * `session-fetch.wait` (seconds) and `session-fetch.replay` on the span of the request that waited or was replayed.
 * Metrics (meter `session-fetch`): `session_fetch.refreshes`, `session_fetch.refresh.duration` (s),
 * `session_fetch.logins`, `session_fetch.replays`, `session_fetch.wait.duration` (s). See docs/observability.md.
 *
 * A provider that throws breaks no request: what it failed to record is lost.
 *
 * @example
 * const plantly = createSessionFetch({ baseURL, instrumentation: otel() })
 */
export function otel(options: OtelOptions = {}): Instrumentation {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError('otel(options): expected an object with `tracerProvider` and/or `meterProvider`')
  }
  const { tracerProvider, meterProvider } = options
  if (tracerProvider !== undefined && typeof tracerProvider?.getTracer !== 'function') {
    throw new TypeError('otel(options): `tracerProvider` must be a TracerProvider (with `getTracer`)')
  }
  if (meterProvider !== undefined && typeof meterProvider?.getMeter !== 'function') {
    throw new TypeError('otel(options): `meterProvider` must be a MeterProvider (with `getMeter`)')
  }
  const version = typeof __SESSION_FETCH_VERSION__ === 'string' ? __SESSION_FETCH_VERSION__ : undefined
  // The global tracer provider delegates to the one registered later; the global meter provider does not, so it
  // is looked up again until one is registered.
  const tracer = (tracerProvider ?? trace.getTracerProvider()).getTracer(SCOPE, version)
  let instruments: Instruments | undefined
  const meter = (): Instruments => {
    const provider = meterProvider ?? metrics.getMeterProvider()
    if (instruments?.provider !== provider) instruments = instrumentsOf(provider, version)
    return instruments
  }

  function sessionCall(call: SessionCallRecord): void {
    const attributes: Attributes = {
      'session_fetch.trigger': call.trigger,
      'session_fetch.waiters': call.waiters,
    }
    if (call.serverAddress !== undefined) attributes['server.address'] = call.serverAddress
    if (call.serverPort !== undefined) attributes['server.port'] = call.serverPort
    if (call.status !== undefined) attributes['http.response.status_code'] = call.status
    if (call.errorType !== undefined) attributes['error.type'] = call.errorType
    const span = tracer.startSpan(
      `session-fetch ${call.kind}`,
      { kind: SpanKind.CLIENT, startTime: call.startTime, attributes },
      (call.cause as Context | undefined) ?? context.active(),
    )
    if (call.outcome !== 'ok') span.setStatus({ code: SpanStatusCode.ERROR })
    span.end(call.endTime)

    const { refreshes, refreshDuration, logins } = meter()
    if (call.kind === 'refresh') {
      const counted = { 'session_fetch.trigger': call.trigger, 'session_fetch.outcome': call.outcome }
      refreshes.add(1, counted)
      refreshDuration.record((call.endTime - call.startTime) / 1000, counted)
    } else if (call.kind === 'login') {
      logins.add(1, { 'session_fetch.outcome': call.outcome })
    }
  }

  return observe({
    cause: () => context.active(),
    sessionCall,
    wait(seconds, cause) {
      meter().waitDuration.record(seconds)
      trace
        .getSpan(cause as Context)
        ?.addEvent('session-fetch.wait', { 'session_fetch.wait.duration': seconds })
    },
    replay(cause) {
      meter().replays.add(1)
      trace.getSpan(cause as Context)?.addEvent('session-fetch.replay')
    },
  })
}
