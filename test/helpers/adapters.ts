import { createHash } from 'node:crypto'
import { createSessionFetch, type SessionFetch, type SessionFetchOptions } from '../../src/index.js'
import type { MockServer } from '../../src/testing/mock/index.js'
import { DEMO_USER } from './mock-server.js'

/** SHA-256 hex of a body, as the mock's echo reports it (`bodyHash`). */
export function sha256(body: string | Uint8Array | ArrayBuffer): string {
  const bytes = typeof body === 'string' ? Buffer.from(body) : Buffer.from(body as ArrayBuffer)
  return createHash('sha256').update(bytes).digest('hex')
}

/** A clock the session reads through its `now` option; tests move it instead of waiting. */
export function testClock() {
  let offset = 0
  return {
    now: () => Date.now() + offset,
    advance(ms: number) {
      offset += ms
    },
  }
}

/** A session on `server`, logged in as the demo user. */
export async function loggedIn(
  server: MockServer,
  options: Partial<SessionFetchOptions> = {},
): Promise<SessionFetch> {
  const plantly = createSessionFetch({ baseURL: server.url, ...options })
  await plantly.login(DEMO_USER)
  return plantly
}

/** The echo body of the mock's protected resources. */
export interface Echo {
  ok: boolean
  method: string
  path: string
  contentType: string | null
  bodyLength: number
  bodyHash: string
}

/** The mock's log entries for one path, oldest first. */
export function attempts(server: MockServer, path: string) {
  return server.log.filter((entry) => entry.path === path)
}

/** Wait until `condition` holds, polling; throws after ~5 s so a hang fails instead of timing out silently. */
export async function until(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (condition()) return
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  throw new Error(`timed out waiting for ${what}`)
}

/** Wait until the session has no refresh queued or running (e.g. the background refresh after a stream's 401). */
export function settled(plantly: SessionFetch): Promise<void> {
  return until(() => plantly.stats().pendingRefreshes === 0, 'the refresh to settle')
}
