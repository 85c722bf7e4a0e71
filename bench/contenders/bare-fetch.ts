import { login } from './session.js'
import { type Contender, RESOURCE } from './types.js'

/** The limit: the platform's fetch with a fixed Authorization header, no session handling at all. */
const contender: Contender = {
  name: 'bare-fetch',
  label: 'bare fetch (fixed header)',
  async create({ url, credentials }) {
    const tokens = await login(url, credentials)
    const headers = { authorization: `Bearer ${tokens.access}` }
    const target = url + RESOURCE
    return {
      async get(signal) {
        const response = await fetch(target, { headers, ...(signal ? { signal } : {}) })
        if (response.status !== 200) {
          await response.body?.cancel()
          throw new Error(`status ${response.status}`)
        }
        await response.json()
      },
    }
  },
}
export default contender
