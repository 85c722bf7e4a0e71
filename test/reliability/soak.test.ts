import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { expect, test } from 'vitest'

// The soak: test/reliability/run-soak.ts sends SOAK_REQUESTS (default 100k) requests through one
// instance with random expiries, revocations, logouts and aborts, in a child process with --expose-gc so the
// heap can be measured after real collections. The limits below are leak detectors, not performance claims.

const REQUESTS = Number(process.env.SOAK_REQUESTS ?? 100_000)
const HEAP_GROWTH_LIMIT_MB = 4 // after warm-up; a leak of 50 bytes per request would be 4 MB at 80k

interface SoakReport {
  requests: number
  seconds: number
  outcomes: { ok: number; unauthorized: number; aborted: number; refreshError: number; other: number }
  otherErrors: string[]
  events: { login: number; refresh: number; logout: number; expired: number }
  stats: { refreshes: number; logins: number; replays: number; pendingRefreshes: number; listeners: number }
  serverTokens: number
  pendingExchanges: number
  heap: { requests: number; mb: number }[]
  maxPendingRefreshes: number
  maxSharedListeners: number
  listenersStart: number
  listenersEnd: number
  activeTimers: number
}

test(`soak: ${REQUESTS} requests through one instance; heap, refresh queue and listener counts stay flat`, async () => {
  const script = fileURLToPath(new URL('./run-soak.ts', import.meta.url))
  const { stdout } = await promisify(execFile)(process.execPath, ['--expose-gc', '--import', 'tsx', script], {
    env: { ...process.env, SOAK_REQUESTS: String(REQUESTS) },
    maxBuffer: 1_000_000,
  })
  const report = JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as SoakReport
  console.log(`soak: ${JSON.stringify({ ...report, otherErrors: undefined })}`)

  // Every request settled with a Response or a documented error; the run exercised what it claims to.
  const { ok, unauthorized, aborted, refreshError, other } = report.outcomes
  expect(report.otherErrors).toEqual([])
  expect(other).toBe(0)
  expect(ok + unauthorized + aborted + refreshError).toBe(REQUESTS)
  expect(report.stats.refreshes).toBeGreaterThan(10)
  expect(report.stats.replays).toBeGreaterThan(100)
  expect(report.stats.logins).toBeGreaterThan(1)
  expect(aborted).toBeGreaterThan(0)

  // Flat: no refresh left queued after a batch, no listener left on the long-lived signal or the
  // instance, no timer left running, nothing pending at the server.
  expect(report.maxPendingRefreshes).toBe(0)
  expect(report.maxSharedListeners).toBe(0)
  expect(report.listenersEnd).toBe(report.listenersStart)
  expect(report.activeTimers).toBe(0)
  expect(report.pendingExchanges).toBe(0)

  // The heap after GC, from the first sample (warm) to the last, grows less than the limit.
  const first = report.heap[0]?.mb ?? Number.NaN
  const last = report.heap.at(-1)?.mb ?? Number.NaN
  expect(report.heap).toHaveLength(10)
  expect(last - first).toBeLessThan(HEAP_GROWTH_LIMIT_MB)
}, 180_000)
