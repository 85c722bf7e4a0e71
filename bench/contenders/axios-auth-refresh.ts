import axios from 'axios'
import { createAuthRefresh } from 'axios-auth-refresh'
import { login, parseSession } from './session.js'
import { type Contender, RESOURCE } from './types.js'

/**
 * Peer: axios with a request interceptor that sets the header and axios-auth-refresh's response interceptor
 * (deduplicated refresh, stalled requests replayed), as in its readme.
 */
const contender: Contender = {
  name: 'axios-auth-refresh',
  label: 'axios + axios-auth-refresh',
  async create({ url, credentials }) {
    let tokens = await login(url, credentials)
    const api = axios.create({ baseURL: url })
    api.interceptors.request.use((request) => {
      request.headers.Authorization = `Bearer ${tokens.access}`
      return request
    })
    // axios-auth-refresh's typings resolve axios's CJS declarations; the instance is the same object.
    const instance = api as unknown as Parameters<typeof createAuthRefresh>[0]
    createAuthRefresh(
      instance,
      async (failed: { response: { config: { headers: Record<string, string> } } }) => {
        const answer = await axios.put(`${url}/auth/sessions`, undefined, {
          headers: { Authorization: `Bearer ${tokens.refresh}` },
        })
        tokens = parseSession(answer.data)
        failed.response.config.headers.Authorization = `Bearer ${tokens.access}`
      },
    )
    return {
      async get(signal) {
        await api.get(RESOURCE, signal ? { signal } : {})
      },
    }
  },
}
export default contender
