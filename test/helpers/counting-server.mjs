// A Plantly-shaped API in its own process (so its answers reach the client in bulk, as from a real server),
// counting TCP connections. Tells its parent { url } over IPC; answers the messages 'revoke' and 'connections'.
// The access token `a<n>` is valid until 'revoke'; a refresh with `r<n>` starts generation n + 1.
import { createServer } from 'node:http'

let generation = 1
let revoked = false
let connections = 0

const session = () =>
  JSON.stringify({
    type: 'auth.session',
    token_type: 'bearer',
    access_token: `a${generation}`,
    refresh_token: `r${generation}`,
    expires_in: 3600,
  })

function json(res, status, body) {
  res
    .writeHead(status, {
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(body)),
    })
    .end(body)
}

const server = createServer((req, res) => {
  req.resume()
  req.on('end', () => {
    const auth = req.headers.authorization
    if (req.url === '/auth/sessions' && req.method === 'POST') json(res, 200, session())
    else if (req.url === '/auth/sessions' && req.method === 'PUT' && auth === `Bearer r${generation}`) {
      generation++
      revoked = false
      const body = session()
      // A refresh takes a round trip or more: by then every refused call of the burst has had its 401.
      setTimeout(() => json(res, 200, body), 50)
    } else if (auth === `Bearer a${generation}` && !revoked) json(res, 200, '{"ok":true}')
    else json(res, 401, '{"code":"unauthorized"}')
  })
})
server.keepAliveTimeout = 60_000
server.on('connection', () => {
  connections++
})
server.listen(0, '127.0.0.1', () => {
  process.send?.({ url: `http://127.0.0.1:${server.address().port}` })
})
process.on('message', (message) => {
  if (message === 'revoke') revoked = true
  process.send?.({ connections })
})
process.on('disconnect', () => process.exit(0))
