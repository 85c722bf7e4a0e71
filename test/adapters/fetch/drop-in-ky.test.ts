import ky from 'ky'
import type { Echo } from '../../helpers/adapters.js'
import { describeDropIn } from '../../helpers/drop-in.js'

// ky hands its fetch a Request (a clone, with the body) plus ky's own non-Request options.
describeDropIn('ky', (plantly, server) => {
  const api = ky.create({ prefixUrl: server.url, fetch: plantly.fetch, retry: 0 })
  const payload = { name: 'fern', tags: ['green', 'ünïcode'] }
  return {
    call: (n) => api.get(`buyers/${n}`).then((response) => response.status),
    async postJson() {
      const echo = await api.post('plants', { json: payload }).json<Echo>()
      return { echo, path: '/plants', json: JSON.stringify(payload) }
    },
    elsewhere: (origin) =>
      ky
        .get(`${origin}/buyers/1`, { fetch: plantly.fetch, retry: 0, throwHttpErrors: false })
        .then((response) => response.status),
  }
})
