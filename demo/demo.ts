// npm run demo: the library's main job on the embedded mock Plantly API, with no network and no configuration.
// It logs in, sends bursts of concurrent requests across a proactive refresh and across a server-side expiry,
// and prints what happened: requests, refresh calls, replays, failures, time.
import { createSessionFetch } from '../src/index.js'
import { startMockServer } from '../src/testing/mock/index.js'

const BURST = 500
const server = await startMockServer({ accessTtlSeconds: 4, latencyMs: 2 })
const plantly = createSessionFetch({ baseURL: server.url })
const events: string[] = []
plantly.on('refresh', () => events.push('refresh'))

type Row = {
  phase: string
  requests: number
  ok: number
  failed: number
  refreshes: number
  replays: number
  ms: number
}
const rows: Row[] = []

async function burst(phase: string, during?: () => void): Promise<void> {
  const before = { refreshes: server.counters.refreshes, replays: plantly.stats().replays }
  const started = performance.now()
  const calls = Array.from({ length: BURST }, (_, i) =>
    plantly.fetch(`/buyers/${i}`, i % 2 ? { method: 'POST', body: JSON.stringify({ i }) } : undefined),
  )
  during?.()
  const results = await Promise.allSettled(calls)
  const ok = results.filter((r) => r.status === 'fulfilled' && r.value.status === 200).length
  rows.push({
    phase,
    requests: BURST,
    ok,
    failed: BURST - ok,
    refreshes: server.counters.refreshes - before.refreshes,
    replays: plantly.stats().replays - before.replays,
    ms: Math.round(performance.now() - started),
  })
}

const t0 = performance.now()
await plantly.login({ email_address: 'demo@plantly.test', password: 'plantly' })
await burst('fresh token')
// The token lives 4 s, so the refresh window is 2 s (never more than half the lifetime): wait into it.
await new Promise((resolve) => setTimeout(resolve, 2_200))
await burst('inside the refresh window (proactive)')
await burst('server expires every token mid-burst (401s)', () =>
  setTimeout(() => server.mock.expireAccessTokens(), 3),
)
await plantly.logout()
await burst('after logout: no token sent, 401s expected')
const total = Math.round(performance.now() - t0)
await server.close()

const header = ['phase', 'requests', 'ok', 'failed', 'refreshes', 'replays', 'ms'] as const // failed = not 200
const widths = header.map((h) => Math.max(h.length, ...rows.map((r) => String(r[h]).length)))
const line = (cells: readonly (string | number)[]) =>
  cells
    .map((c, i) => (i === 0 ? String(c).padEnd(widths[i] ?? 0) : String(c).padStart(widths[i] ?? 0)))
    .join('  ')
console.log(`session-fetch demo against the embedded Plantly mock at ${server.url}\n`)
console.log(line(header))
console.log(widths.map((w) => '-'.repeat(w)).join('  '))
for (const row of rows) console.log(line(header.map((h) => row[h])))
console.log(
  `\nserver: ${server.counters.logins} login, ${server.counters.refreshes} refresh calls, ${server.counters.reuseDetected} refresh-token reuses, ${server.counters.apiUnauthorized} API 401s, ${server.counters.logouts} logout`,
)
console.log(
  `total: ${total} ms. Expected: one refresh per phase that crosses an expiry, 0 failures before logout.`,
)
const healthy = rows.slice(0, 3).every((r) => r.failed === 0 && r.refreshes <= 1) && rows[3]?.ok === 0
process.exitCode = healthy ? 0 : 1
