import { Agent, request } from 'undici'
import { sessionInterceptor } from '../../src/adapters/undici/index.js'
import { createSessionFetch } from '../../src/index.js'
import { type Contender, RESOURCE } from './types.js'

/**
 * This package through its undici adapter: `undici.request` with an Agent composed with `sessionInterceptor`
 * (the reference for it is `undici-request`, the same call with a fixed header on undici's default Agent).
 */
const contender: Contender = {
  name: 'session-fetch-undici',
  label: 'undici.request + session-fetch sessionInterceptor',
  async create({ url, credentials, now }) {
    const plantly = createSessionFetch({ baseURL: url, ...(now ? { now } : {}) })
    await plantly.login(credentials)
    const dispatcher = new Agent().compose(sessionInterceptor(plantly))
    const target = url + RESOURCE
    return {
      async get(signal) {
        const { statusCode, body } = await request(target, { dispatcher, ...(signal ? { signal } : {}) })
        if (statusCode !== 200) {
          await body.dump()
          throw new Error(`status ${statusCode}`)
        }
        await body.json()
      },
    }
  },
}
export default contender
