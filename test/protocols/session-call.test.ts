// sessionCall's retries against the clock: one session call with retry and backoff, bounded by its deadline.
import { afterEach, expect, test, vi } from 'vitest'
import { sessionCall } from '../../src/protocols/session-call.js'

afterEach(() => {
  vi.useRealTimers()
})

test('a retry whose wait ends past the deadline is not sent (the process or tab was suspended meanwhile)', async () => {
  vi.useFakeTimers()
  const sent: string[] = []
  const transport = async (input: RequestInfo | URL) => {
    sent.push(String(input))
    return new Response('busy', { status: 503 })
  }
  const call = sessionCall(
    {
      method: 'PUT',
      url: 'https://api.plantly.test/auth/sessions',
      headers: {},
      retry: 1,
      retryDelayMs: 100,
    },
    // The deadline's own abort timer has not fired: a frozen tab runs its overdue timers in any order.
    { fetch: transport as typeof fetch, signal: new AbortController().signal, deadline: Date.now() + 1_000 },
  )
  const outcome = call.then(
    () => 'answered',
    (error: unknown) => error,
  )
  await vi.advanceTimersByTimeAsync(0)
  expect(sent).toHaveLength(1) // the 503; a retry is planned ~100 ms later, well within the deadline
  vi.setSystemTime(Date.now() + 5_000) // suspended: the clock moved past the deadline, no timer ran
  await vi.advanceTimersByTimeAsync(200) // the retry's wait ends
  expect(sent).toHaveLength(1)
  expect(await outcome).toMatchObject({ name: 'TimeoutError' })
})
