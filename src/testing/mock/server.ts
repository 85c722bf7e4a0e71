import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import {
  type Fault,
  type MockCounters,
  type MockLogEntry,
  PlantlyMock,
  type PlantlyMockOptions,
} from './plantly-mock.js'

/** Options of {@link startMockServer}: the mock's options plus where to listen. */
export interface MockServerOptions extends PlantlyMockOptions {
  /** @default '127.0.0.1' */
  host?: string
  /** @default 0 (any free port) */
  port?: number
}

/** A running mock Plantly API. */
export interface MockServer {
  /** Base URL, e.g. `http://127.0.0.1:41234`. */
  url: string
  /** The state machine behind it: counters, log, faults, clock. */
  mock: PlantlyMock
  counters: MockCounters
  log: MockLogEntry[]
  inject(...faults: Fault[]): void
  /** Close the server and every open connection (hanging ones included). */
  close(): Promise<void>
}

/**
 * Start the embedded Plantly Sessions API on 127.0.0.1: jose-signed JWTs, configurable TTLs, refresh-token
 * rotation with reuse detection, fault injection and counters. Every path other than the Sessions resource is
 * a protected API resource that echoes what it received (method, path, content type, body length and hash).
 *
 * @example
 * const server = await startMockServer({ accessTtlSeconds: 5 })
 * const plantly = createSessionFetch({ baseURL: server.url })
 * await plantly.login({ email_address: 'demo@plantly.test', password: 'plantly' })
 * await server.close()
 */
export async function startMockServer(options: MockServerOptions = {}): Promise<MockServer> {
  const { host = '127.0.0.1', port = 0, ...mockOptions } = options
  const mock = new PlantlyMock(mockOptions)
  const sockets = new Set<Socket>()
  const server = createServer((req, res) => {
    void serve(mock, req, res)
  })
  server.keepAliveTimeout = 5_000
  server.on('connection', (socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => resolve())
  })
  const address = server.address() as AddressInfo
  const hostname = address.family === 'IPv6' ? `[${address.address}]` : address.address
  return {
    url: `http://${hostname}:${address.port}`,
    mock,
    counters: mock.counters,
    log: mock.log,
    inject: (...faults) => mock.inject(...faults),
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy()
        server.close(() => resolve())
      }),
  }
}

/** Answer one node:http request from `mock` (for servers that also serve other things from the same origin). */
export async function serve(mock: PlantlyMock, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const chunks: Buffer[] = []
  for await (const chunk of req) chunks.push(chunk as Buffer)
  const headers = new Headers()
  for (const [name, value] of Object.entries(req.headers)) {
    if (typeof value === 'string') headers.set(name, value)
    else if (Array.isArray(value)) for (const item of value) headers.append(name, item)
  }
  const reply = await mock.handle({
    method: req.method ?? 'GET',
    path: req.url ?? '/',
    headers,
    body: new Uint8Array(Buffer.concat(chunks)),
  })
  if (reply.kind === 'drop') {
    req.socket.destroy()
    return
  }
  if (reply.kind === 'hang') return // answered never; close() destroys the socket
  res.writeHead(reply.status, { date: new Date(mock.now()).toUTCString(), ...reply.headers })
  res.end(reply.body)
}
