// A Request with a body through plantly.fetch in a real Chromium, over HTTP/1.1 from the page's own origin: fetch
// sends it as it would without the session (a stream upload would need HTTP/2 there, and fail), and after a 401
// it is replayed with the same bytes and Content-Type from the copy read off its clone. Chromium missing makes
// these tests fail (findChromium throws), never skip.
import { describe, expect, test } from 'vitest'
import { tabsOrigin } from '../../helpers/chromium.js'
import { DEMO_USER } from '../../helpers/mock-server.js'

describe('in Chromium, a Request with a body', () => {
  test.each(['string', 'blob', 'form', 'params'] as const)(
    'made from %s: sent as fetch sends it, replayed after a 401 with the same bytes',
    async (kind) => {
      const origin = await tabsOrigin()
      const page = await origin.open()
      await page.evaluate(({ email, password }) => window.tab.login(email, password), {
        email: DEMO_USER.email_address,
        password: DEMO_USER.password,
      })
      origin.mock.expireAccessTokens()
      const status = await page.evaluate((body) => window.tab.postRequest(body, '/plants'), kind)
      expect(status).toBe(200)
      const [first, replay] = origin.mock.log.filter((entry) => entry.path === '/plants')
      expect([first?.status, replay?.status]).toEqual([401, 200])
      expect(replay?.bodyHash).toBe(first?.bodyHash)
      expect(replay?.contentType).toBe(first?.contentType)
      expect(first?.contentType).toMatch(
        {
          string: /^text\/plain/,
          blob: /^text\/x-plant$/,
          form: /^multipart\/form-data; boundary=/,
          params: /^application\/x-www-form-urlencoded/,
        }[kind],
      )
    },
  )
})
