// Real-browser harness: a Chromium found by chromium-binary.ts (never downloaded) driven by playwright-core, and
// one node:http server on 127.0.0.1 that serves the test page and answers the Plantly API from the same origin.
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'
import { type BrowserContext, chromium, type Page } from 'playwright-core'
import { afterEach } from 'vitest'
import { PlantlyMock, type PlantlyMockOptions } from '../../src/testing/mock/plantly-mock.js'
import { serve } from '../../src/testing/mock/server.js'
import { CHROMIUM_ARGS, findChromium } from './chromium-binary.js'

let bundled: Promise<string> | undefined

/** src/index.ts + src/browser bundled for the browser (platform 'browser': any Node-only import fails here). */
export function pageBundle(): Promise<string> {
  bundled ??= build({
    entryPoints: [fileURLToPath(new URL('../stores/browser/tab-page.ts', import.meta.url))],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'chrome120',
    write: false,
    logLevel: 'silent',
  }).then((result) => result.outputFiles[0]?.text ?? '')
  return bundled
}

export interface TabsOrigin {
  /** The origin, e.g. http://127.0.0.1:41234 */
  url: string
  mock: PlantlyMock
  /** Open a new tab on the test page, ready to drive through `window.tab`. */
  open(query?: string): Promise<Page>
}

const cleanups: (() => Promise<void>)[] = []

/** Start Chromium with a fresh profile and a same-origin server (test page + mock API). Both end after the test. */
export async function tabsOrigin(options: PlantlyMockOptions = {}): Promise<TabsOrigin> {
  const browser = await findChromium()
  const script = await pageBundle()
  const mock = new PlantlyMock(options)
  const sockets = new Set<Socket>()
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]
    if (path === '/tab.html') {
      res.writeHead(200, { 'content-type': 'text/html' })
      res.end(
        '<!doctype html><meta charset="utf-8"><title>tab</title><script type="module" src="/tab.js"></script>',
      )
    } else if (path === '/tab.js') {
      res.writeHead(200, { 'content-type': 'text/javascript' })
      res.end(script)
    } else if (path === '/favicon.ico') {
      res.writeHead(404).end()
    } else void serve(mock, req, res)
  })
  server.on('connection', (socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy()
        server.close(() => resolve())
      }),
  )

  const profile = mkdtempSync(join(tmpdir(), 'session-fetch-chromium-'))
  let context: BrowserContext
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: browser.executablePath,
      env: browser.env,
      headless: true,
      args: CHROMIUM_ARGS,
      timeout: 20_000,
    })
  } catch (error) {
    rmSync(profile, { recursive: true, force: true })
    throw error
  }
  cleanups.push(async () => {
    await context.close().catch(() => undefined)
    rmSync(profile, { recursive: true, force: true })
  })

  return {
    url,
    mock,
    async open(query = '') {
      const page = await context.newPage()
      page.on('pageerror', (error) => console.error('page error:', error.message))
      await page.goto(`${url}/tab.html${query}`)
      await page.waitForFunction(() => 'tab' in window)
      return page
    },
  }
}

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

/**
 * Stop a tab as Chrome stops a frozen background tab: none of its tasks, timers or callbacks run, while the browser
 * side goes on (its lock requests are granted, its requests in flight reach the server). Resolves with the function
 * that lets it run again, where its overdue timers fire. Through the DevTools protocol: the Page Lifecycle freeze
 * (`Page.setWebLifecycleState`), which chrome-headless-shell (the packaged browser) accepts but does not apply (its
 * pages stay visible, their timers keep running), and a debugger pause, which stops the tab's JavaScript at the
 * next statement in every build.
 */
export async function freeze(page: Page): Promise<() => Promise<void>> {
  const session = await page.context().newCDPSession(page)
  await session.send('Page.setWebLifecycleState', { state: 'frozen' })
  await session.send('Debugger.enable')
  await session.send('Debugger.pause')
  return async () => {
    await session.send('Debugger.disable') // resumes, and drops a pause not reached yet
    await session.send('Page.setWebLifecycleState', { state: 'active' })
    await session.detach()
  }
}
