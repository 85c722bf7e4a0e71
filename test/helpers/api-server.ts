import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach } from 'vitest'
import { PlantlyMock, type PlantlyMockOptions } from '../../src/testing/mock/plantly-mock.js'
import { serve } from '../../src/testing/mock/server.js'

/** A route of {@link apiServer}: answers the request itself, or returns false to leave it to the mock. */
export type Route = (req: IncomingMessage, res: ServerResponse) => boolean

export interface ApiServer {
  url: string
  mock: PlantlyMock
  /** Requests this server received, in order: method, path and the Authorization header. */
  received: { method: string; path: string; authorization: string | undefined }[]
}

const running = new Set<Server>()

/**
 * A real HTTP server on 127.0.0.1 with a quirk: `route` answers what it wants to, and the package's mock (the
 * one Plantly model) answers the rest. Closed after the test.
 */
export async function apiServer(
  route: Route = () => false,
  options: PlantlyMockOptions = {},
): Promise<ApiServer> {
  const mock = new PlantlyMock(options)
  const received: ApiServer['received'] = []
  const server = createServer((req, res) => {
    received.push({
      method: req.method ?? 'GET',
      path: req.url ?? '/',
      authorization: req.headers.authorization,
    })
    if (!route(req, res)) void serve(mock, req, res)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  running.add(server)
  const { port } = server.address() as AddressInfo
  return { url: `http://127.0.0.1:${port}`, mock, received }
}

afterEach(async () => {
  await Promise.all(
    [...running].map(
      (server) =>
        new Promise<void>((resolve) => {
          server.closeAllConnections()
          server.close(() => resolve())
        }),
    ),
  )
  running.clear()
})
