import { afterEach } from 'vitest'
import { type MockServer, type MockServerOptions, startMockServer } from '../../src/mock/index.js'

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
