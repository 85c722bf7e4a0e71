import ky from 'ky'
import { login, parseSession } from './session.js'
import { type Contender, RESOURCE } from './types.js'

/**
 * Peer: ky@1 with `beforeRequest` setting the header on the first attempt and the `afterResponse` refresh on a
 * 401 returning `ky.retry({ request })`, as in ky's readme (its default retry delay applies to that retry).
 */
const contender: Contender = {
  name: 'ky-hooks',
  label: 'ky@1 + beforeRequest/afterResponse',
  async create({ url, credentials }) {
    let tokens = await login(url, credentials)
    const api = ky.create({
      prefixUrl: url,
      hooks: {
        beforeRequest: [
          (request, _options, { retryCount }) => {
            if (retryCount === 0) request.headers.set('authorization', `Bearer ${tokens.access}`)
          },
        ],
        afterResponse: [
          async (request, _options, response, state) => {
            if (response.status !== 401 || state.retryCount !== 0) return
            const body = await ky
              .put(`${url}/auth/sessions`, {
                headers: { authorization: `Bearer ${tokens.refresh}` },
                retry: 0,
              })
              .json()
            tokens = parseSession(body)
            const headers = new Headers(request.headers)
            headers.set('authorization', `Bearer ${tokens.access}`)
            return ky.retry({ request: new Request(request, { headers }), code: 'TOKEN_REFRESHED' })
          },
        ],
      },
    })
    const path = RESOURCE.slice(1)
    return {
      async get(signal) {
        await api.get(path, signal ? { signal } : {}).json()
      },
    }
  },
}
export default contender
