import { HttpResponse, http, type RequestHandler } from 'msw'
import { PlantlyMock, type PlantlyMockOptions } from '../mock/plantly-mock.js'

export type { Fault, MockCounters, MockLogEntry, PlantlyMockOptions } from '../mock/plantly-mock.js'
export { PlantlyMock } from '../mock/plantly-mock.js'

/** Options of {@link plantlyHandlers}. */
export interface PlantlyHandlersOptions extends PlantlyMockOptions {
  /** The base URL the handlers answer for, e.g. `https://api.plantly.gr4vy.app`. */
  baseURL: string
}

/**
 * msw request handlers for the Plantly Sessions API, backed by the same state machine as the mock server:
 * login, rotating refresh with reuse detection, logout, protected echo resources, faults and counters.
 *
 * @example
 * const { handlers, mock } = plantlyHandlers({ baseURL: 'https://api.plantly.gr4vy.app', accessTtlSeconds: 5 })
 * const server = setupServer(...handlers)
 */
export function plantlyHandlers(options: PlantlyHandlersOptions): {
  handlers: RequestHandler[]
  mock: PlantlyMock
} {
  const { baseURL, ...mockOptions } = options
  const base = new URL(baseURL)
  const mock = new PlantlyMock(mockOptions)
  const handler = http.all(`${base.origin}/*`, async ({ request }) => {
    const url = new URL(request.url)
    const reply = await mock.handle({
      method: request.method,
      path: url.pathname + url.search,
      headers: request.headers,
      body: new Uint8Array(await request.arrayBuffer()),
    })
    if (reply.kind === 'drop') return HttpResponse.error()
    if (reply.kind === 'hang') {
      return new Promise<Response>((_resolve, reject) => {
        request.signal.addEventListener('abort', () => reject(request.signal.reason), { once: true })
      })
    }
    return new HttpResponse(reply.body ?? null, {
      status: reply.status,
      headers: { date: new Date(mock.now()).toUTCString(), ...reply.headers },
    })
  })
  return { handlers: [handler], mock }
}
