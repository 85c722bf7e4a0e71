import { createHash, randomBytes } from 'node:crypto'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { afterEach } from 'vitest'

/** One request as the quirk server received it. */
export interface Received {
  path: string
  authorization: string | undefined
}

/** What the server wrote for one response body, as it wrote it, and whether the client cut it off. */
export interface Written {
  length(): number
  hash(): string
  /** Resolves when the connection carrying the response closed (the client hung up, or the response ended). */
  closed: Promise<void>
  /** True when the connection closed before the server ended the body. */
  cutOff(): boolean
}

/** How a path answers: writes the head on `res`, the body through `body`. */
export type Route = (req: IncomingMessage, res: ServerResponse, body: BodyWriter) => void

/** Writes a response body and keeps the hash and length of every byte written, in order. */
export class BodyWriter {
  private readonly hasher = createHash('sha256')
  private length = 0
  private ended = false
  readonly written: Written

  constructor(private readonly res: ServerResponse) {
    const closed = new Promise<void>((resolve) => res.socket?.once('close', () => resolve()))
    res.on('error', () => undefined) // a client that hung up is what some tests want
    this.written = {
      length: () => this.length,
      hash: () => this.hasher.copy().digest('hex'),
      closed,
      cutOff: () => !this.ended,
    }
  }

  /** Write a chunk; false when the socket's buffer is full (wait for `drain`). */
  write(chunk: Buffer): boolean {
    this.hasher.update(chunk)
    this.length += chunk.length
    return this.res.write(chunk)
  }

  end(): void {
    this.ended = true
    this.res.end()
  }

  /** Stream `total` bytes (`pattern` repeated), respecting backpressure; `progress` after each write. */
  stream(pattern: Buffer, total: number, progress: () => void): void {
    const pump = () => {
      while (this.length < total) {
        if (this.res.destroyed) return
        const ok = this.write(pattern.subarray(0, Math.min(pattern.length, total - this.length)))
        progress()
        if (!ok) {
          this.res.once('drain', pump)
          return
        }
      }
      this.end()
    }
    pump()
  }

  /** Write a byte every `everyMs` until `stop()` or the client hangs up; `stop()` then ends the body. */
  trickle(everyMs: number): { stop(): void } {
    const timer = setInterval(() => {
      if (this.res.destroyed) clearInterval(timer)
      else this.write(randomBytes(1))
    }, everyMs)
    this.res.socket?.once('close', () => clearInterval(timer))
    return {
      stop: () => {
        clearInterval(timer)
        this.write(randomBytes(7))
        this.end()
      },
    }
  }
}

export interface QuirkServer {
  url: string
  received: Received[]
  /** Answer `path` with `route` (the first request only, when `once`; later ones get 200 `{"ok":true}`). */
  on(path: string, route: Route, options?: { once?: boolean }): void
  /** The bodies written for `path`, in request order. */
  bodies(path: string): Written[]
}

const running = new Set<() => Promise<void>>()
afterEach(async () => {
  await Promise.all([...running].map((close) => close()))
  running.clear()
})

/** A node:http server on 127.0.0.1 for one test: routes with the quirk under test, closed after the test. */
export async function quirkServer(): Promise<QuirkServer> {
  const received: Received[] = []
  const routes = new Map<string, { route: Route; once: boolean; used: boolean }>()
  const bodies = new Map<string, Written[]>()
  const sockets = new Set<Socket>()
  const server = createServer((req, res) => {
    const path = req.url ?? '/'
    received.push({ path, authorization: req.headers.authorization })
    req.resume()
    const entry = routes.get(path)
    const body = new BodyWriter(res)
    bodies.set(path, [...(bodies.get(path) ?? []), body.written])
    if (entry && !(entry.once && entry.used)) {
      entry.used = true
      entry.route(req, res, body)
      return
    }
    res.writeHead(200, { 'content-type': 'application/json' })
    body.write(Buffer.from(JSON.stringify({ ok: true, path })))
    body.end()
  })
  server.on('connection', (socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  running.add(
    () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy()
        server.close(() => resolve())
      }),
  )
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    received,
    on: (path, route, options = {}) => routes.set(path, { route, once: options.once ?? true, used: false }),
    bodies: (path) => bodies.get(path) ?? [],
  }
}
