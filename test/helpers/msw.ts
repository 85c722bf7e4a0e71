import { setupServer } from 'msw/node'
import { afterAll, afterEach, beforeAll } from 'vitest'
import { createSessionFetch, type SessionFetch, type SessionFetchOptions } from '../../src/index.js'
import { type PlantlyHandlersOptions, plantlyHandlers } from '../../src/testing/msw/index.js'

export const BASE = 'https://api.plantly.test'
export const OTHER = 'https://elsewhere.test'
export const DEMO_USER = { email_address: 'demo@plantly.test', password: 'plantly' } as const

/** One msw server for the file; any request no handler answers fails the test. */
export const server = setupServer()
beforeAll(() => server.listen({ onUnhandledRequest: 'error' }))
afterEach(() => server.resetHandlers())
afterAll(() => server.close())

/** A fresh mock Plantly API behind msw, and a client for it (logged in unless `login: false`). */
export async function plantlyApi(
  options: Partial<PlantlyHandlersOptions> & { login?: boolean; client?: Partial<SessionFetchOptions> } = {},
): Promise<{ plantly: SessionFetch; mock: ReturnType<typeof plantlyHandlers>['mock'] }> {
  const { login = true, client = {}, ...mockOptions } = options
  const { handlers, mock } = plantlyHandlers({ baseURL: BASE, ...mockOptions })
  server.use(...handlers)
  const plantly = createSessionFetch({ baseURL: BASE, ...client })
  if (login) await plantly.login(DEMO_USER)
  return { plantly, mock }
}

/** A promise with its resolve function, for holding a handler until the test lets it go. */
export function deferred<T = void>() {
  let resolve!: (value: T) => void
  const promise = new Promise<T>((r) => {
    resolve = r
  })
  return { promise, resolve }
}
