import type { MockServer } from '../../src/testing/mock/index.js'

const METHODS = { login: 'POST', refresh: 'PUT', logout: 'DELETE' } as const

/**
 * Hold every session call of one kind that reaches `server` (a refresh by default) until `release()`: the
 * server has it (the client waits for the answer) but acts on it only then (a refresh after its
 * `refreshLatencyMs` too), so a test can act while the call is under way whatever the machine's load, instead of
 * racing a fixed delay.
 */
export function holdSessionCalls(
  server: MockServer,
  call: keyof typeof METHODS = 'refresh',
): { arrived(): number; release(): void } {
  let release = () => {}
  const released = new Promise<void>((resolve) => {
    release = resolve
  })
  let arrived = 0
  const handle = server.mock.handle.bind(server.mock)
  server.mock.handle = async (request) => {
    if (request.method === METHODS[call] && request.path.split('?')[0] === server.mock.options.path) {
      arrived++
      await released
    }
    return handle(request)
  }
  return { arrived: () => arrived, release }
}
