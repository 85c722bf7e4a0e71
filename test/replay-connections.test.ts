import { type ChildProcess, fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { afterEach, expect, test } from 'vitest'
import { createSessionFetch } from '../src/index.js'

let child: ChildProcess | undefined
afterEach(() => {
  child?.kill()
  child = undefined
})

function ask(proc: ChildProcess, message: string): Promise<number> {
  return new Promise((resolve) => {
    proc.once('message', (answer: { connections: number }) => resolve(answer.connections))
    proc.send(message)
  })
}

test('the replays of a 401 storm reuse the keep-alive connections instead of opening one each', async () => {
  const proc = fork(fileURLToPath(new URL('./helpers/counting-server.mjs', import.meta.url)))
  child = proc
  const url = await new Promise<string>((resolve) =>
    proc.once('message', (m: { url: string }) => resolve(m.url)),
  )
  const plantly = createSessionFetch({ baseURL: url })
  await plantly.login({ email_address: 'demo@plantly.test', password: 'plantly' })
  const burst = () =>
    Promise.all(
      Array.from({ length: 2000 }, async () => {
        const response = await plantly.fetch('/plants/42')
        await response.json()
        return response.status
      }),
    )
  await burst() // opens the connections
  const before = await ask(proc, 'revoke') // every call of the next burst is refused once, then replayed
  expect(await burst()).toEqual(Array(2000).fill(200))
  expect(plantly.stats()).toMatchObject({ refreshes: 1, replays: 2000 })
  // Sent in the same macrotask as the refused body's cancel, each replay found its connection still busy and
  // opened a new one (2,000 more here); the server runs in its own process so its 401s arrive in bulk.
  expect((await ask(proc, 'connections')) - before).toBeLessThan(200)
}, 60_000)
