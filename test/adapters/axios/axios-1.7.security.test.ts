// The axios adapter's token promises on axios 1.7.9: the first minor with the fetch adapter.
import { vi } from 'vitest'
import { axiosSecurity, followRedirectsOf } from './axios-security.js'

vi.mock('axios', () => import('axios-1.7'))

axiosSecurity({
  package: 'axios-1.7',
  axios: '1.7.9',
  followRedirects: followRedirectsOf('axios'),
  fetchAdapter: true,
})
