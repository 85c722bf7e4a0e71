// The page of test/adapters/axios/axios-browser.test.ts, bundled for the browser by esbuild (once with the newest
// axios, once with axios 1.6.0 in its place). An axios instance with a session on it, driven as `window.adapter`.

import axios, { type AxiosAdapter, type AxiosError, type AxiosResponse } from 'axios'
import { attachSession } from '../../../src/adapters/axios/index.js'
import { createSessionFetch } from '../../../src/index.js'

const plantly = createSessionFetch({ baseURL: location.origin })

/** What one call came to, and whether any view of it shows the token. */
export interface Outcome {
  status: number | undefined
  /** `Authorization` on the config axios handed back. */
  authorization: unknown
  /** The token is in JSON.stringify of the error, or of the answer's config headers. */
  shown: boolean
}

const adapter = {
  version: axios.VERSION,
  async login(email: string, password: string): Promise<void> {
    await plantly.login({ email_address: email, password })
  },
  async get(adapter: 'xhr' | 'fetch', path: string): Promise<Outcome> {
    const token = (await plantly.getSession())?.access_token ?? 'no session'
    const api = axios.create({ baseURL: location.origin, adapter: adapter as unknown as AxiosAdapter })
    attachSession(api, plantly)
    try {
      const response: AxiosResponse = await api.get(path)
      const json = JSON.stringify(response.config.headers)
      return {
        status: response.status,
        authorization: response.config.headers.get('Authorization'),
        shown: json.includes(token),
      }
    } catch (caught) {
      const error = caught as AxiosError
      return {
        status: error.response?.status,
        authorization: error.config?.headers.get('Authorization'),
        shown: JSON.stringify(error).includes(token),
      }
    }
  },
}

declare global {
  interface Window {
    adapter: typeof adapter
  }
}
window.adapter = adapter
