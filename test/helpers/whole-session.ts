// A whole session against the embedded mock, for a child process (nothing of vitest here): a login, a request, a
// refresh the token's age makes due, a 401 replayed after the server expired the token, a logout. Resolves with
// what it saw; rejects when any step went otherwise.
import type { Instrumentation } from '../../src/core/options.js'
import { createSessionFetch } from '../../src/index.js'
import { startMockServer } from '../../src/testing/mock/index.js'

export interface WholeSession {
  statuses: number[]
  stats: { refreshes: number; replays: number; logins: number }
  server: { logins: number; refreshes: number; logouts: number }
}

export async function wholeSession(instrumentation?: Instrumentation): Promise<WholeSession> {
  const server = await startMockServer({ accessTtlSeconds: 60 })
  let offset = 0
  try {
    const plantly = createSessionFetch({
      baseURL: server.url,
      now: () => Date.now() + offset,
      ...(instrumentation ? { instrumentation } : {}),
    })
    await plantly.login({ email_address: 'demo@plantly.test', password: 'plantly' })
    const statuses = [(await plantly.fetch('/buyers/1')).status]
    offset += 56_000 // inside the must-refresh margin: the request waits for a refresh
    statuses.push((await plantly.fetch('/buyers/2')).status)
    server.mock.expireAccessTokens() // the next request is refused once, then replayed with a new token
    statuses.push((await plantly.fetch('/buyers/3')).status)
    await plantly.logout()
    const { refreshes, replays, logins } = plantly.stats()
    const { counters } = server
    return {
      statuses,
      stats: { refreshes, replays, logins },
      server: { logins: counters.logins, refreshes: counters.refreshes, logouts: counters.logouts },
    }
  } finally {
    await server.close()
  }
}
