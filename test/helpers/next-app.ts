// The Next.js app of test/next-app, built by test/setup/build-next.ts, run with `next start` as a child process on
// 127.0.0.1 (a free port Next picks), and the figures the Next tests read off the mock Plantly API.
import { type ChildProcess, spawn } from 'node:child_process'
import type { MockServer } from '../../src/testing/mock/index.js'
import { APP, NEXT_BIN, nextEnv } from '../setup/build-next.js'

export interface NextProcess {
  url: string
  /** What the process printed (stdout and stderr), for a failure's message. */
  output(): string
  stop(): Promise<void>
}

/** `next start` on a free port of 127.0.0.1 with `env` added; resolves once it answers. */
export function startNext(env: Record<string, string>): Promise<NextProcess> {
  const child = spawn(process.execPath, [NEXT_BIN, 'start', '--port', '0', '--hostname', '127.0.0.1', APP], {
    env: nextEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let printed = ''
  const stop = () => stopChild(child)
  return new Promise<NextProcess>((resolve, reject) => {
    const timer = setTimeout(() => {
      void stop()
      reject(new Error(`next start did not get ready in 30 s:\n${printed}`))
    }, 30_000)
    const read = (chunk: Buffer) => {
      printed += chunk.toString()
      const url = /Local:\s+(http:\/\/127\.0\.0\.1:\d+)/.exec(printed)?.[1]
      if (url && /Ready in/.test(printed)) {
        clearTimeout(timer)
        resolve({ url, output: () => printed, stop })
      }
    }
    child.stdout?.on('data', read)
    child.stderr?.on('data', read)
    child.on('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`next start exited with ${code}:\n${printed}`))
    })
  })
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => {
    const force = setTimeout(() => child.kill('SIGKILL'), 5_000)
    child.once('exit', () => {
      clearTimeout(force)
      resolve()
    })
    child.kill('SIGTERM')
  })
}

/** Every access and refresh token the mock has issued (from the answers of its Sessions resource). */
export function recordIssuedTokens(server: MockServer): Set<string> {
  const issued = new Set<string>()
  const handle = server.mock.handle.bind(server.mock)
  server.mock.handle = async (request) => {
    const reply = await handle(request)
    if (reply.kind === 'response' && typeof reply.body === 'string' && reply.body.includes('_token')) {
      try {
        const body = JSON.parse(reply.body) as { access_token?: unknown; refresh_token?: unknown }
        for (const token of [body.access_token, body.refresh_token]) {
          if (typeof token === 'string') issued.add(token)
        }
      } catch {}
    }
    return reply
  }
  return issued
}

/** What the mock counted since `mark()`: refreshes, reuse detected, refused refreshes, and the API calls' statuses. */
export function raceFigures(server: MockServer) {
  const start = { ...server.counters }
  const logged = server.log.length
  return () => {
    const calls = server.log.slice(logged)
    return {
      refreshes: server.counters.refreshes - start.refreshes,
      reuse: server.counters.reuseDetected - start.reuseDetected,
      rejected: server.counters.refreshRejected - start.refreshRejected,
      calls: calls.length,
      failed: calls.filter((call) => call.status !== 200).length,
      tokens: new Set(calls.map((call) => call.token)),
    }
  }
}
