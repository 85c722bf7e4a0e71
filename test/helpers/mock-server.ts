import { afterEach } from 'vitest'
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
