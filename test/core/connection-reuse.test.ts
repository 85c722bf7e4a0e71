import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, expect, test } from 'vitest'
import { createSessionFetch } from '../../src/index.js'
import { PlantlyMock } from '../../src/testing/mock/plantly-mock.js'
import { serve } from '../../src/testing/mock/server.js'
import { DEMO_USER } from '../helpers/mock-server.js'

const servers: Server[] = []
afterEach(() => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections()
    server.close()
  }
})

/**
 * The mock behind a server that counts the TCP connections it accepted, and sends a 401's body a moment after
 * its head (as a server that streams its error pages does): a client that cancels the body closes the connection.
 */
async function countingServer() {
  const mock = new PlantlyMock()
  const server = createServer((req, res) => {
    const end = res.end.bind(res) as (body?: unknown) => void
    res.end = ((body?: unknown) => {
      if (res.statusCode !== 401) return end(body)
      res.flushHeaders()
      setTimeout(() => end(body), 30)
      return res
    }) as typeof res.end
    void serve(mock, req, res)
  })
  let connections = 0
  server.on('connection', () => connections++)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  servers.push(server)
  const { port } = server.address() as AddressInfo
  return { mock, url: `http://127.0.0.1:${port}`, connections: () => connections }
}

test('the replays of a 401 storm reuse the connections of the refused requests', async () => {
  const server = await countingServer()
  // Node's own fetch, as most callers use it.
  const plantly = createSessionFetch({ baseURL: server.url })
  await plantly.login(DEMO_USER)
  // Warm the pool: every one of its connections is open before the storm.
  await Promise.all(Array.from({ length: 64 }, (_, i) => plantly.fetch(`/warm/${i}`).then((r) => r.text())))
  const warm = server.connections()
  expect(warm).toBeLessThanOrEqual(66) // the login's and the 64 requests'

  server.mock.expireAccessTokens()
  const responses = await Promise.all(Array.from({ length: 64 }, (_, i) => plantly.fetch(`/storm/${i}`)))
  await Promise.all(responses.map((r) => r.text()))
  expect(responses.every((r) => r.status === 200)).toBe(true)
  expect(plantly.stats().replays).toBe(64)
  // 64 refused bodies read to their end hand their connections back; cancelled, each was closed and its replay
  // opened a new one (67 new connections, measured before the change).
  expect(server.connections() - warm).toBeLessThanOrEqual(4)
})
