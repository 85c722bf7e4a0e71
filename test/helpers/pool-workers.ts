import { type ChildProcess, fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { afterEach } from 'vitest'

const running = new Set<ChildProcess>()

/** An HTTP server in a child process (see `entry`), and its base URL. */
export interface HttpWorker {
  readonly child: ChildProcess
  readonly url: string
  /** GET or POST `path` on it; the JSON it answers. */
  request(path: string, method?: 'GET' | 'POST', headers?: Record<string, string>): Promise<Response>
}

/**
 * Fork `count` HTTP servers running `entry` (a file under test/helpers, run with tsx), each with `env`, and wait
 * until each says it listens ({ ready, port } over IPC). Killed after the test.
 */
export function startHttpWorkers(
  entry: string,
  count: number,
  env: Record<string, string>,
): Promise<HttpWorker[]> {
  const file = fileURLToPath(new URL(entry, import.meta.url))
  return Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<HttpWorker>((resolve, reject) => {
          const child = fork(file, [], {
            execArgv: ['--import', 'tsx'],
            env: { ...process.env, ...env },
            stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
          })
          running.add(child)
          child.once('exit', () => {
            running.delete(child)
            reject(new Error('an HTTP worker exited while starting'))
          })
          const startup = setTimeout(() => reject(new Error('an HTTP worker did not start in time')), 120_000)
          child.on('message', (message: { ready?: boolean; port?: number }) => {
            if (!message.ready) return
            clearTimeout(startup)
            const url = `http://127.0.0.1:${message.port}`
            resolve({
              child,
              url,
              request: (path, method = 'GET', headers = {}) => fetch(`${url}${path}`, { method, headers }),
            })
          })
        }),
    ),
  )
}

afterEach(async () => {
  await Promise.all(
    [...running].map(
      (child) =>
        new Promise<void>((resolve) => {
          child.once('exit', () => resolve())
          child.kill('SIGKILL')
        }),
    ),
  )
  running.clear()
})
