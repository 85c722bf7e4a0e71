import { createSessionFetch } from '../../src/index.js'
import { type Contender, RESOURCE } from './types.js'

/** This package: `plantly.fetch` with the default Plantly protocol and memory store. */
const contender: Contender = {
  name: 'session-fetch',
  label: 'session-fetch `fetch`',
  async create({ url, credentials, now }) {
    const plantly = createSessionFetch({ baseURL: url, ...(now ? { now } : {}) })
    await plantly.login(credentials)
    return {
      async get(signal) {
        const response = await plantly.fetch(RESOURCE, signal ? { signal } : undefined)
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
