// The axios adapter's token promises on the newest axios (the devDependency).
import { axiosSecurity, followRedirectsOf } from './axios-security.js'

axiosSecurity({
  package: 'axios',
  axios: '1.21.1',
  followRedirects: followRedirectsOf('axios'),
  fetchAdapter: true,
})
