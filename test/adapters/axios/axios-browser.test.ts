// axios's XHR and fetch adapters in a real Chromium: the browser follows redirects itself, so the session cannot
// take its token off a hop; these tests pin what the browser does (the Fetch standard removes Authorization on a
// redirect to another origin) and what the adapter still decides: a 401 from there is no refusal of the token (the
// XHR adapter says where the answer came from), and no view of the answer or the error shows the token. Chromium
// missing makes these tests fail (findChromium throws), never skip.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'
import { type Browser, chromium, type Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { PlantlyMock } from '../../../src/testing/mock/plantly-mock.js'
import { serve } from '../../../src/testing/mock/server.js'
import { CHROMIUM_ARGS, findChromium } from '../../helpers/chromium-binary.js'
import { DEMO_USER } from '../../helpers/mock-server.js'
import type { Outcome } from './browser-page.js'

interface Seen {
  method: string
  path: string
  authorization: string | undefined
}

const servers: Server[] = []
const sockets = new Set<Socket>()

async function listen(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
  const server = createServer(handler)
  server.on('connection', (socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  servers.push(server)
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

/** The page bundled with `axios` standing for `pkg`. */
async function bundle(pkg: string): Promise<string> {
  const result = await build({
    entryPoints: [fileURLToPath(new URL('./browser-page.ts', import.meta.url))],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'chrome120',
    write: false,
    logLevel: 'silent',
    alias: pkg === 'axios' ? {} : { axios: pkg },
  })
  return result.outputFiles[0]?.text ?? ''
}

let browser: Browser
let api = '' // the page's origin: the test page and the mock API
let elsewhere = '' // another origin: answers anything, CORS preflights included
let mock: PlantlyMock
const atElsewhere: Seen[] = []
const pages = new Map<string, string>()

beforeAll(async () => {
  pages.set('axios', await bundle('axios'))
  pages.set('axios-1.6', await bundle('axios-1.6'))
  mock = new PlantlyMock()
  // The other origin is as permissive as a hostile server would be: it allows every header its callers ask to
  // send, Authorization included, so a browser that kept the token would deliver it here.
  elsewhere = await listen((req, res) => {
    atElsewhere.push({
      method: req.method ?? 'GET',
      path: req.url ?? '/',
      authorization: req.headers.authorization,
    })
    const cors = {
      'access-control-allow-origin': req.headers.origin ?? '*',
      'access-control-allow-headers': req.headers['access-control-request-headers'] ?? '*',
      'access-control-allow-methods': 'GET, POST',
    }
    if (req.method === 'OPTIONS') return void res.writeHead(204, cors).end()
    const refused = req.url?.startsWith('/unauthorized') === true
    res.writeHead(refused ? 401 : 200, { ...cors, 'content-type': 'application/json' })
    res.end(JSON.stringify(refused ? { code: 'not_yours' } : { landed: req.url }))
  })
  api = await listen((req, res) => {
    const path = req.url ?? '/'
    const page = /^\/page-(axios(?:-1\.6)?)\.(html|js)$/.exec(path)
    if (page?.[2] === 'html') {
      res.writeHead(200, { 'content-type': 'text/html' })
      return void res.end(
        `<!doctype html><meta charset="utf-8"><script type="module" src="/page-${page[1]}.js"></script>`,
      )
    }
    if (page?.[2] === 'js') {
      res.writeHead(200, { 'content-type': 'text/javascript' })
      return void res.end(pages.get(page[1] ?? ''))
    }
    if (path.startsWith('/hop/')) {
      res.writeHead(307, { location: `${elsewhere}/${path.slice('/hop/'.length)}` })
      return void res.end()
    }
    if (path === '/favicon.ico') return void res.writeHead(404).end()
    void serve(mock, req, res)
  })
  const binary = await findChromium()
  browser = await chromium.launch({
    executablePath: binary.executablePath,
    env: binary.env,
    headless: true,
    args: CHROMIUM_ARGS,
    timeout: 20_000,
  })
})

afterAll(async () => {
  await browser?.close()
  for (const socket of sockets) socket.destroy()
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))))
})

async function open(pkg: string): Promise<Page> {
  const page = await browser.newPage()
  page.on('pageerror', (error) => console.error('page error:', error.message))
  await page.goto(`${api}/page-${pkg}.html`)
  await page.waitForFunction(() => 'adapter' in window)
  await page.evaluate(({ email, password }) => window.adapter.login(email, password), {
    email: DEMO_USER.email_address,
    password: DEMO_USER.password,
  })
  return page
}

function get(page: Page, adapter: 'xhr' | 'fetch', path: string): Promise<Outcome> {
  return page.evaluate(({ adapter, path }) => window.adapter.get(adapter, path), { adapter, path })
}

describe.each([
  ['axios', '1.21.1', ['xhr', 'fetch'] as const],
  ['axios-1.6', '1.6.0', ['xhr'] as const],
])('axios in Chromium (%s)', (pkg, version, adapters) => {
  test('the page runs the axios it names', async () => {
    const page = await open(pkg)
    expect(await page.evaluate(() => window.adapter.version)).toBe(version)
  })

  test.each(adapters)('%s: a redirect to another origin does not take the token there', async (adapter) => {
    const page = await open(pkg)
    atElsewhere.length = 0
    const outcome = await get(page, adapter, `/hop/landing-${adapter}`)
    expect(outcome).toEqual({ status: 200, authorization: '[redacted]', shown: false })
    const landed = atElsewhere.filter((seen) => seen.method === 'GET')
    expect(landed).toEqual([{ method: 'GET', path: `/landing-${adapter}`, authorization: undefined }])
  })

  test.each(adapters)(
    '%s: a 401 from there is given back; an answer or an error shows no token',
    async (adapter) => {
      const page = await open(pkg)
      const refreshes = mock.counters.refreshes
      const refused = await get(page, adapter, '/hop/unauthorized')
      expect(refused.status).toBe(401)
      expect(refused.shown).toBe(false)
      // The XHR adapter says where the answer came from (responseURL): no refresh. The fetch adapter does not,
      // so the session takes it for a refusal of its token: one refresh, one replay (which goes home first).
      expect(mock.counters.refreshes - refreshes).toBe(adapter === 'xhr' ? 0 : 1)
      const ok = await get(page, adapter, '/buyers')
      expect(ok).toEqual({ status: 200, authorization: '[redacted]', shown: false })
    },
  )
})
