// The benchmark server, run in its own process by bench/run.ts: node:http on 127.0.0.1.
//
// - `POST/PUT /auth/sessions` go to the project's PlantlyMock (jose-signed JWTs, rotation, reuse detection).
// - Every other path is the hot path: one Map lookup of the Bearer token, then a fixed small JSON body, so the
//   server is never the bottleneck of a client-side measurement.
// - `/__bench/*` is the control surface the orchestrator and the clients use (counts, expiry, TTL).
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { PlantlyMock } from '../src/testing/mock/index.js'

const mock = new PlantlyMock({ accessTtlSeconds: 3600, refreshTtlSeconds: 3600, logLimit: 1 })
/** Access token → local epoch ms at which it stops working. */
const valid = new Map<string, number>()
const counts = { api: 0, unauthorized: 0, logins: 0, refreshCalls: 0, refreshRejected: 0, connections: 0 }
/** After this many more API answers, every access token stops working (a token expiring mid-burst). */
let expireAfter: number | undefined

const JSON_HEADERS = { 'content-type': 'application/json', 'content-length': '' }
const OK_BODY = JSON.stringify({ id: 42, name: 'Monstera deliciosa', watered: true, light: 'indirect' })
const UNAUTHORIZED_BODY = JSON.stringify({
  type: 'error',
  code: 'unauthorized',
  status: 401,
  message: 'No valid API authentication found',
})
const OK_HEADERS = { ...JSON_HEADERS, 'content-length': String(Buffer.byteLength(OK_BODY)) }
const UNAUTHORIZED_HEADERS = {
  ...JSON_HEADERS,
  'content-length': String(Buffer.byteLength(UNAUTHORIZED_BODY)),
}

function expireAll(): void {
  valid.clear()
  mock.expireAccessTokens()
}

function api(req: IncomingMessage, res: ServerResponse): void {
  counts.api++
  if (expireAfter !== undefined && --expireAfter < 0) {
    expireAfter = undefined
    expireAll()
  }
  const auth = req.headers.authorization
  const until = auth?.startsWith('Bearer ') ? valid.get(auth.slice(7)) : undefined
  if (until === undefined || until <= Date.now()) {
    counts.unauthorized++
    res.writeHead(401, UNAUTHORIZED_HEADERS).end(UNAUTHORIZED_BODY)
    return
  }
  res.writeHead(200, OK_HEADERS).end(OK_BODY)
}

async function sessions(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const chunks: Buffer[] = []
  for await (const chunk of req) chunks.push(chunk as Buffer)
  const headers = new Headers()
  for (const [name, value] of Object.entries(req.headers))
    if (typeof value === 'string') headers.set(name, value)
  if (req.method === 'PUT') counts.refreshCalls++
  const reply = await mock.handle({
    method: req.method ?? 'GET',
    path: req.url ?? '/',
    headers,
    body: new Uint8Array(Buffer.concat(chunks)),
  })
  if (reply.kind !== 'response') {
    req.socket.destroy()
    return
  }
  if (reply.status === 200 && reply.body) {
    const session = JSON.parse(reply.body) as { access_token: string; expires_in: number }
    valid.set(session.access_token, Date.now() + session.expires_in * 1000)
    if (req.method === 'POST') counts.logins++
  } else if (req.method === 'PUT') counts.refreshRejected++
  res.writeHead(reply.status, { date: new Date().toUTCString(), ...reply.headers }).end(reply.body)
}

function control(req: IncomingMessage, res: ServerResponse, url: URL): void {
  const action = url.pathname.slice('/__bench/'.length)
  if (action === 'reset') {
    for (const key of Object.keys(counts) as (keyof typeof counts)[]) counts[key] = 0
    expireAfter = undefined
  } else if (action === 'expire') {
    const after = Number(url.searchParams.get('after') ?? 0)
    if (after > 0) expireAfter = after
    else expireAll()
  } else if (action === 'ttl') {
    // Lifetime of the access tokens issued from now on (logins and refreshes).
    mock.options.accessTtlSeconds = Number(url.searchParams.get('seconds') ?? 3600)
  } else if (action === 'refresh-latency') {
    // How long the server takes to answer a refresh (PUT), in ms.
    mock.options.refreshLatencyMs = Number(url.searchParams.get('ms') ?? 0)
  } else if (action !== 'counts') {
    res.writeHead(404).end()
    return
  }
  res
    .writeHead(200, { 'content-type': 'application/json' })
    .end(JSON.stringify({ ...counts, method: req.method }))
}

const server = createServer((req, res) => {
  const path = req.url ?? '/'
  if (path.startsWith('/auth/sessions')) {
    sessions(req, res).catch(() => res.destroy())
  } else if (path.startsWith('/__bench/')) {
    control(req, res, new URL(path, 'http://127.0.0.1'))
  } else api(req, res)
})
server.on('connection', () => {
  counts.connections++
})
// Keep-alive sockets outlive the pauses between phases; the storm opens many connections at once.
server.keepAliveTimeout = 120_000
server.headersTimeout = 125_000
server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, () => {
  const { port } = server.address() as AddressInfo
  process.send?.({ url: `http://127.0.0.1:${port}` })
})
process.on('disconnect', () => process.exit(0))
