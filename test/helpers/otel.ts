// The OpenTelemetry SDK as an application sets it up, with everything kept in memory for the assertions: spans
// through an in-memory exporter, metrics through a reader collected on demand, contexts across `await`
// (AsyncLocalStorage). One per test; the context manager is registered once per file.
import { context } from '@opentelemetry/api'
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks'
import { type DataPoint, type Histogram, MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics'
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base'
import { afterAll, beforeAll } from 'vitest'

class OnDemandReader extends MetricReader {
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

/** One metric's points, each with its attributes and value (a sum, or a histogram's count and sum). */
export interface Points {
  attributes: Record<string, unknown>
  value: number
  count?: number
  sum?: number
}

export interface Telemetry {
  tracerProvider: BasicTracerProvider
  meterProvider: MeterProvider
  spans(name?: string): ReadableSpan[]
  /** The points of every metric, by name (an instrument that recorded nothing is absent). */
  metrics(): Promise<Map<string, Points[]>>
}

export function telemetry(): Telemetry {
  const exporter = new InMemorySpanExporter()
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] })
  const reader = new OnDemandReader()
  const meterProvider = new MeterProvider({ readers: [reader] })
  return {
    tracerProvider,
    meterProvider,
    spans: (name) => exporter.getFinishedSpans().filter((span) => name === undefined || span.name === name),
    async metrics() {
      const { resourceMetrics } = await reader.collect()
      const found = new Map<string, Points[]>()
      for (const scope of resourceMetrics.scopeMetrics) {
        for (const metric of scope.metrics) {
          const points = (metric.dataPoints as DataPoint<number | Histogram>[]).map((point) => {
            const value = point.value
            return typeof value === 'number'
              ? { attributes: { ...point.attributes }, value }
              : {
                  attributes: { ...point.attributes },
                  value: value.count,
                  count: value.count,
                  sum: value.sum ?? 0,
                }
          })
          found.set(metric.descriptor.name, points)
        }
      }
      return found
    },
  }
}

/** Sum of a metric's values whose attributes include `where`. */
export function total(points: Points[] | undefined, where: Record<string, unknown> = {}): number {
  return (points ?? [])
    .filter((point) => Object.entries(where).every(([key, value]) => point.attributes[key] === value))
    .reduce((sum, point) => sum + point.value, 0)
}

/** Contexts follow `await` in this file's tests, as with the Node SDK. */
export function withContextManager(): void {
  const manager = new AsyncLocalStorageContextManager()
  beforeAll(() => {
    context.setGlobalContextManager(manager.enable())
  })
  afterAll(() => {
    context.disable()
  })
}
