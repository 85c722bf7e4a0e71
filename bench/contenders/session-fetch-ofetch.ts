import { createSessionOfetch } from '../../src/adapters/ofetch/index.js'
import { createSessionFetch } from '../../src/index.js'
import { type Contender, RESOURCE } from './types.js'

/** This package through its ofetch adapter: `createSessionOfetch(plantly)` (the session's fetch below ofetch). */
const contender: Contender = {
  name: 'session-fetch-ofetch',
  label: 'ofetch + session-fetch createSessionOfetch',
  async create({ url, credentials, now }) {
    const plantly = createSessionFetch({ baseURL: url, ...(now ? { now } : {}) })
    await plantly.login(credentials)
    const api = createSessionOfetch(plantly, { baseURL: url })
    return {
      async get(signal) {
        await api(RESOURCE, signal ? { signal } : {})
      },
    }
  },
}
export default contender
