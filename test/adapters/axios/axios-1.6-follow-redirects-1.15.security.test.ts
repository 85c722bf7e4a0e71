// The axios adapter's token promises on axios 1.6.0: the lowest of the peer range, with the lowest follow-redirects it admits.
import { vi } from 'vitest'
import { axiosSecurity } from './axios-security.js'

vi.mock('axios', () => import('axios-1.6-fr-1.15'))

axiosSecurity({
  package: 'axios-1.6-fr-1.15',
  axios: '1.6.0',
  followRedirects: '1.15.0',
  fetchAdapter: false,
})
