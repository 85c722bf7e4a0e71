import { type ChildProcess, fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { afterEach } from 'vitest'
import type { SessionStats } from '../../src/index.js'

const WORKER = fileURLToPath(new URL('./redis-worker.ts', import.meta.url))
const CALL_TIMEOUT_MS = 60_000 // a hang detector only

export interface WorkerEvent {
  event: 'login' | 'refresh' | 'logout' | 'expired'
  source: 'local' | 'store'
}

/** A child process with its own session-fetch instance on a shared Redis key or session file. */
export interface Worker {
  readonly child: ChildProcess
  readonly events: WorkerEvent[]
  /** What the store told its `onError` (messages). */
  readonly errors: string[]
  call(op: 'login' | 'session' | 'refresh'): Promise<string | undefined>
  call(op: 'fetch', args: { path: string }): Promise<number>
  /** Each request's status, or the name of the error it failed with. */
  call(op: 'storm', args: { path: string; count: number }): Promise<(number | string)[]>
  call(op: 'logout' | 'exit'): Promise<null>
  call(op: 'stats'): Promise<SessionStats>
  /** Resolves when the process has exited (with its signal, if killed). */
  readonly exited: Promise<NodeJS.Signals | null>
  /** Whether its SIGTERM handler began (`'closing'`) and said it closed the client and the store (`'closed'`). */
  readonly shutdown: () => 'closing' | 'closed' | undefined
}

export type WorkerEnv = {
  baseURL: string
  refreshTimeoutMs?: number
  /** Give the instance `credentials` (the mock's demo user) for unattended logins. */
  credentials?: boolean
  /** The store's `lockLeaseMs` (Redis and file). */
  lockLeaseMs?: number
  /** Use a Redis Cluster through these nodes (`rootNodes`) instead of `redisURL`. */
  rootNodes?: string[]
  /** Use a node-redis sentinel client (`createSentinel`) for the primary `name` instead of `redisURL`. */
  sentinel?: { name: string; ports: number[] }
} & WorkerStorage

/** Where the workers share their session: a Redis key, or a session file. */
export type WorkerStorage =
  | { redisURL: string; key: string; file?: undefined }
  | { file: string; redisURL?: undefined; key?: undefined }

const running = new Set<ChildProcess>()

/** Fork `count` workers (real OS processes, run with tsx) and wait until each is ready. */
export async function startWorkers(count: number, env: WorkerEnv): Promise<Worker[]> {
  return Promise.all(Array.from({ length: count }, () => startWorker(env)))
}

function startWorker(env: WorkerEnv): Promise<Worker> {
  const child = fork(WORKER, [], {
    execArgv: ['--import', 'tsx'],
    env: {
      ...process.env,
      SF_BASE_URL: env.baseURL,
      SF_REDIS_URL: env.redisURL ?? '',
      SF_KEY: env.key ?? '',
      SF_FILE: env.file ?? '',
      SF_REFRESH_TIMEOUT_MS: String(env.refreshTimeoutMs ?? 10_000),
      SF_CREDENTIALS: env.credentials ? '1' : '',
      SF_LOCK_LEASE_MS: env.lockLeaseMs === undefined ? '' : String(env.lockLeaseMs),
      SF_ROOT_NODES: env.rootNodes ? JSON.stringify(env.rootNodes) : '',
      SF_SENTINEL: env.sentinel ? JSON.stringify(env.sentinel) : '',
    },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  running.add(child)
  const events: WorkerEvent[] = []
  const errors: string[] = []
  let shutdown: 'closing' | 'closed' | undefined
  const pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>()
  let nextId = 1
  const exited = new Promise<NodeJS.Signals | null>((resolve) => {
    child.once('exit', (_code, signal) => {
      running.delete(child)
      for (const { reject } of pending.values()) reject(new Error(`worker ${child.pid} exited (${signal})`))
      pending.clear()
      resolve(signal)
    })
  })
  return new Promise<Worker>((resolve, reject) => {
    // Generous: eight workers compiling with tsx next to a Redis cluster on a loaded machine (a hang detector).
    const startup = setTimeout(() => reject(new Error('a worker did not start in time')), 2 * CALL_TIMEOUT_MS)
    child.once('exit', () => reject(new Error('a worker exited while starting')))
    child.on('message', (message: Record<string, unknown>) => {
      if (message.ready) {
        clearTimeout(startup)
        resolve(worker)
      } else if (message.closing === true) {
        shutdown = 'closing'
      } else if (message.closed === true) {
        shutdown = 'closed'
      } else if (typeof message.storeError === 'string') {
        errors.push(message.storeError)
      } else if (typeof message.event === 'string') {
        events.push(message as unknown as WorkerEvent)
      } else if (typeof message.id === 'number') {
        const waiter = pending.get(message.id)
        pending.delete(message.id)
        if (message.ok) waiter?.resolve(message.value)
        else
          waiter?.reject(Object.assign(new Error(String((message.error as Error)?.message)), message.error))
      }
    })
    const worker: Worker = {
      child,
      events,
      errors,
      exited,
      shutdown: () => shutdown,
      call: ((op: string, args: Record<string, unknown> = {}) =>
        new Promise((resolveCall, rejectCall) => {
          const id = nextId++
          const timer = setTimeout(() => {
            pending.delete(id)
            rejectCall(new Error(`worker ${child.pid}: ${op} did not answer in time`))
          }, CALL_TIMEOUT_MS)
          pending.set(id, {
            resolve: (value) => {
              clearTimeout(timer)
              resolveCall(value as never)
            },
            reject: (error) => {
              clearTimeout(timer)
              rejectCall(error)
            },
          })
          child.send({ id, op, ...args })
        })) as Worker['call'],
    }
  })
}

afterEach(async () => {
  // Whatever a test left running is killed, so no process outlives its test.
  const left = [...running]
  await Promise.all(
    left.map(
      (child) =>
        new Promise<void>((resolve) => {
          child.once('exit', () => resolve())
          child.kill('SIGKILL')
        }),
    ),
  )
})
