import { afterEach, expect } from 'vitest'
import { type Session, type SessionFetch, StoreError } from '../../src/index.js'
import { type MockServer, type MockServerOptions, startMockServer } from '../../src/testing/mock/index.js'

export const DEMO_USER = { email_address: 'demo@plantly.test', password: 'plantly' } as const

const running = new Set<MockServer>()

/** Start a mock Plantly API on 127.0.0.1 for this test; closed after it. */
export async function mockServer(options: MockServerOptions = {}): Promise<MockServer> {
  const server = await startMockServer(options)
  running.add(server)
  return server
}

afterEach(async () => {
  await Promise.all([...running].map((server) => server.close()))
  running.clear()
})

/** One request as a mock server received it: the Authorization header and the body, as sent over HTTP. */
export interface ReceivedRequest {
  method: string
  path: string
  authorization: string | null
  body: string
}

/** Every request `server` receives from now on (session calls included), for "what reached this origin" checks. */
export function recordRequests(server: MockServer): ReceivedRequest[] {
  const received: ReceivedRequest[] = []
  const handle = server.mock.handle.bind(server.mock)
  server.mock.handle = (request) => {
    received.push({
      method: request.method,
      path: request.path,
      authorization: request.headers.get('authorization'),
      body: new TextDecoder().decode(request.body),
    })
    return handle(request)
  }
  return received
}

/**
 * A client of another API (`b`, on `serverB`) that shares a store holding `serverA`'s session: every call it can
 * make rejects with a `StoreError` naming both issuers and no token, and nothing at all reaches `serverB`.
 */
export async function expectForeignIssuerRefused(
  b: SessionFetch,
  serverA: MockServer,
  serverB: MockServer,
  received: ReceivedRequest[],
  sessionA: Session,
): Promise<void> {
  const calls = {
    fetch: () => b.fetch('/buyers'),
    login: () => b.login(DEMO_USER),
    refresh: () => b.refresh(),
    logout: () => b.logout(),
    getSession: () => b.getSession(),
  }
  for (const [name, call] of Object.entries(calls)) {
    const error = await call().then(
      () => new Error(`${name} resolved`),
      (e: unknown) => e,
    )
    expect(error, name).toBeInstanceOf(StoreError)
    const message = (error as StoreError).message
    expect(message, name).toContain(`plantly:${serverA.url}/auth/sessions`)
    expect(message, name).toContain(`plantly:${serverB.url}/auth/sessions`)
    for (const token of [sessionA.access_token, sessionA.refresh_token])
      if (token) expect(message, name).not.toContain(token)
  }
  expect(received).toEqual([]) // not even a login of its own, which could only have orphaned a session
}
