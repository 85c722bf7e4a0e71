// The axios adapter's token promises on axios 1.6.0: the lowest of the peer range, with the follow-redirects a fresh install resolves.
import { vi } from 'vitest'
import { axiosSecurity, followRedirectsOf } from './axios-security.js'

vi.mock('axios', () => import('axios-1.6'))

axiosSecurity({
  package: 'axios-1.6',
  axios: '1.6.0',
  followRedirects: followRedirectsOf('axios'),
  fetchAdapter: false,
})
