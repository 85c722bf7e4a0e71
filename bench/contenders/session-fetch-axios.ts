import axios from 'axios'
import { attachSession } from '../../src/adapters/axios/index.js'
import { createSessionFetch } from '../../src/index.js'
import { type Contender, RESOURCE } from './types.js'

/** This package through its axios adapter: `attachSession(axios.create(), plantly)`. */
const contender: Contender = {
  name: 'session-fetch-axios',
  label: 'axios + session-fetch attachSession',
  async create({ url, credentials, now }) {
    const plantly = createSessionFetch({ baseURL: url, ...(now ? { now } : {}) })
    await plantly.login(credentials)
    const api = axios.create({ baseURL: url })
    attachSession(api, plantly)
    return {
      async get(signal) {
        await api.get(RESOURCE, signal ? { signal } : {})
      },
    }
  },
}
export default contender
