import { ofetch } from 'ofetch'
import { login, parseSession } from './session.js'
import { type Contender, RESOURCE } from './types.js'

/**
 * Peer: ofetch with an `onRequest` hook that sets the header and an `onResponseError` hook that refreshes on a
 * 401, then ofetch's own retry (401 added to `retryStatusCodes`) sends the call again through `onRequest`.
 */
const contender: Contender = {
  name: 'ofetch-hooks',
  label: 'ofetch + onRequest/onResponseError',
  async create({ url, credentials }) {
    let tokens = await login(url, credentials)
    const api = ofetch.create({
      baseURL: url,
      retry: 1,
      retryStatusCodes: [401],
      onRequest({ options }) {
        options.headers.set('authorization', `Bearer ${tokens.access}`)
      },
      async onResponseError({ response }) {
        if (response.status !== 401) return
        const body = await ofetch(`${url}/auth/sessions`, {
          method: 'PUT',
          headers: { authorization: `Bearer ${tokens.refresh}` },
          retry: 0,
        })
        tokens = parseSession(body)
      },
    })
    return {
      async get(signal) {
        await api(RESOURCE, signal ? { signal } : {})
      },
    }
  },
}
export default contender
