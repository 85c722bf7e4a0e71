import { request } from 'undici'
import { login } from './session.js'
import { type Contender, RESOURCE } from './types.js'

/** The lower limit: undici's request API (no WHATWG Request/Response objects), fixed Authorization header. */
const contender: Contender = {
  name: 'undici-request',
  label: 'undici.request (fixed header)',
  async create({ url, credentials }) {
    const tokens = await login(url, credentials)
    const headers = { authorization: `Bearer ${tokens.access}` }
    const target = url + RESOURCE
    return {
      async get(signal) {
        const { statusCode, body } = await request(target, { headers, ...(signal ? { signal } : {}) })
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
