// A session recorded by session-fetch/otel with the OpenTelemetry SDK, for a child process (nothing of vitest here).
// `@opentelemetry/api` in this file and in src/otel is whatever the bundle maps it to (test/otel/otel-api-1.3.test.ts
// bundles them with API 1.3.0); the SDK's packages are left to Node and keep their own API. Prints what was
// recorded as JSON; the test asserts on it.
import { context, metrics, trace } from '@opentelemetry/api'
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks'
import { type DataPoint, type Histogram, MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics'
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base'
import { createSessionFetch } from '../../src/index.js'
import { otel } from '../../src/otel/index.js'
import { startMockServer } from '../../src/testing/mock/index.js'

class OnDemandReader extends MetricReader {
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

const DEMO_USER = { email_address: 'demo@plantly.test', password: 'plantly' }
const GLOBAL = Symbol.for('opentelemetry.js.api.1')

function sdk() {
  const exporter = new InMemorySpanExporter()
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] })
  const reader = new OnDemandReader()
  const meterProvider = new MeterProvider({ readers: [reader] })
  return { exporter, tracerProvider, reader, meterProvider }
}

const spanOf = (span: ReadableSpan) => ({
  name: span.name,
  kind: span.kind,
  spanId: span.spanContext().spanId,
  traceId: span.spanContext().traceId,
  parentSpanId: span.parentSpanContext?.spanId,
  status: span.status.code,
  attributes: span.attributes,
  events: span.events.map((event) => ({ name: event.name, attributes: event.attributes })),
})

async function metricsOf(reader: MetricReader) {
  const { resourceMetrics } = await reader.collect()
  const found: Record<string, unknown[]> = {}
  for (const scope of resourceMetrics.scopeMetrics) {
    for (const metric of scope.metrics) {
      found[metric.descriptor.name] = (metric.dataPoints as DataPoint<number | Histogram>[]).map((point) =>
        typeof point.value === 'number'
          ? { attributes: point.attributes, value: point.value }
          : {
              attributes: point.attributes,
              count: point.value.count,
              boundaries: point.value.buckets.boundaries,
            },
      )
    }
  }
  return found
}

const registered = context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable())
const apiVersion = (globalThis as Record<symbol, { version?: string } | undefined>)[GLOBAL]?.version

const server = await startMockServer({ accessTtlSeconds: 60 })
let offset = 0
try {
  // Providers given to otel().
  const given = sdk()
  const tracer = given.tracerProvider.getTracer('app')
  const plantly = createSessionFetch({
    baseURL: server.url,
    now: () => Date.now() + offset,
    instrumentation: otel({ tracerProvider: given.tracerProvider, meterProvider: given.meterProvider }),
  })
  // The caller's spans are made active through the API the app has (here the bundle's).
  const within = async <T>(name: string, run: () => Promise<T>): Promise<T> => {
    const span = tracer.startSpan(name)
    try {
      return await context.with(trace.setSpan(context.active(), span), run)
    } finally {
      span.end()
    }
  }
  const statuses: number[] = []
  await within('POST /sign-in', () => plantly.login(DEMO_USER))
  offset += 56_000 // inside the must-refresh margin: the requests wait for one refresh
  await within('GET /dashboard', async () => {
    const answers = await Promise.all([1, 2, 3, 4, 5].map((i) => plantly.fetch(`/widgets/${i}`)))
    statuses.push(...answers.map((answer) => answer.status))
  })
  server.mock.expireAccessTokens() // refused once, then replayed with a new token
  await within('GET /report', async () => {
    statuses.push((await plantly.fetch('/report')).status)
  })
  await within('POST /sign-out', () => plantly.logout())

  // The global providers, registered through the same API: otel() with no options.
  const global = sdk()
  const globalClient = createSessionFetch({ baseURL: server.url, instrumentation: otel() })
  const tracerSet = trace.setGlobalTracerProvider(global.tracerProvider)
  const meterSet = metrics.setGlobalMeterProvider(global.meterProvider)
  await globalClient.login(DEMO_USER)
  await globalClient.refresh()

  console.log(
    JSON.stringify({
      registered,
      apiVersion,
      statuses,
      stats: plantly.stats(),
      spans: given.exporter.getFinishedSpans().map(spanOf),
      metrics: await metricsOf(given.reader),
      global: {
        registered: { tracer: tracerSet, meter: meterSet },
        spans: global.exporter.getFinishedSpans().map(spanOf),
        metrics: await metricsOf(global.reader),
      },
    }),
  )
} finally {
  await server.close()
}
