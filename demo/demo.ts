// npm run demo: the library's main job on the embedded mock Plantly API, with no network and no configuration.
// It logs in, sends bursts of concurrent requests across a proactive refresh and across a server-side expiry,
// and prints what happened: requests, refresh calls, replays, failures, time.
import { createSessionFetch } from '../src/index.js'
import { startMockServer } from '../src/testing/mock/index.js'

const BURST = 500
// The client reads a clock the demo moves (`now`), so each phase lands where it says whatever the machine's load:
// the token lives 60 s, the refresh window is its last 30 s and the must-refresh margin its last 5 s.
let clockMs = 0
const server = await startMockServer({ latencyMs: 2, invalidateOnRefresh: false })
const plantly = createSessionFetch({ baseURL: server.url, now: () => Date.now() + clockMs })

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

async function burst(phase: string, before?: () => void): Promise<void> {
  before?.()
  const start = { refreshes: server.counters.refreshes, replays: plantly.stats().replays }
  const started = performance.now()
  const calls = Array.from({ length: BURST }, (_, i) =>
    plantly.fetch(`/buyers/${i}`, i % 2 ? { method: 'POST', body: JSON.stringify({ i }) } : undefined),
  )
  const results = await Promise.allSettled(calls)
  const ok = results.filter((r) => r.status === 'fulfilled' && r.value.status === 200).length
  // A refresh-ahead still running belongs to its phase.
  while (plantly.stats().pendingRefreshes > 0) await new Promise((resolve) => setTimeout(resolve, 5))
  rows.push({
    phase,
    requests: BURST,
    ok,
    failed: BURST - ok,
    refreshes: server.counters.refreshes - start.refreshes,
    replays: plantly.stats().replays - start.replays,
    ms: Math.round(performance.now() - started),
  })
}

const t0 = performance.now()
await plantly.login({ email_address: 'demo@plantly.test', password: 'plantly' })
await burst('fresh token')
await burst('refresh window: sent at once, one refresh behind', () => {
  clockMs += 40_000 // 20 s left
})
await burst('must-refresh margin: wait for one refresh', () => {
  clockMs += 57_000 // 3 s left on the token the last phase obtained
})
await burst('server ends the token after 250 calls (401s)', () =>
  server.mock.expireAccessTokens({ afterRequests: BURST / 2 }),
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
const expected = [
  { refreshes: 0, replays: 0, failed: 0 },
  { refreshes: 1, replays: 0, failed: 0 },
  { refreshes: 1, replays: 0, failed: 0 },
  { refreshes: 1, replays: BURST / 2, failed: 0 },
  { refreshes: 0, replays: 0, failed: BURST },
]
console.log(
  `total: ${total} ms. Expected: one refresh in each phase that needs one, ${BURST / 2} replays when the server ends the token, 0 failures before logout.`,
)
const healthy = expected.every((want, i) => {
  const row = rows[i]
  return row?.refreshes === want.refreshes && row.replays === want.replays && row.failed === want.failed
})
if (!healthy) console.error('The demo did not go as expected: see the rows above.')
process.exitCode = healthy ? 0 : 1
