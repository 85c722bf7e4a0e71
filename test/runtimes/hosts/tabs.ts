// Host for the browser store in a browser: three same-origin frames (an iframe is a tab to browserStore: its own
// realm, the origin's IndexedDB, locks and BroadcastChannel), each with its own client on one browserStore(). The
// top page drives them: one logs in, all three fire a storm across an expiry (one refresh between them), one logs
// out (the others lose the session). Loaded as `tabs.html` (the driver) and `tabs.html?frame=N` (a tab).
import { createSessionFetch } from 'session-fetch'
import { browserStore } from 'session-fetch/browser'
import type { ScenarioResult, StepResult } from '../scenario.js'
import { crashed, report } from './report.js'

const FRAMES = 3
const STORM = 20
const base = location.origin

interface Command {
  id: number
  cmd: 'login' | 'token' | 'logout' | 'storm'
  label?: string
}

const frame = new URLSearchParams(location.search).get('frame')
if (frame !== null) {
  const plantly = createSessionFetch({ baseURL: base, store: browserStore({ key: 'runtimes-tabs' }) })
  addEventListener('message', async (event: MessageEvent<Command>) => {
    const command = event.data
    let value: unknown
    try {
      if (command.cmd === 'login') {
        value = (await plantly.login({ email_address: 'demo@plantly.test', password: 'plantly' }))
          .access_token
      } else if (command.cmd === 'token') value = (await plantly.getSession())?.access_token ?? null
      else if (command.cmd === 'logout') value = await plantly.logout()
      else {
        value = await Promise.all(
          Array.from({ length: STORM }, (_, i) =>
            plantly.fetch(`/tabs/${command.label ?? ''}/${frame}/${i}`).then((res) => res.status),
          ),
        )
      }
      parent.postMessage({ id: command.id, value }, base)
    } catch (error) {
      parent.postMessage({ id: command.id, error: String(error) }, base)
    }
  })
  parent.postMessage({ ready: Number(frame) }, base)
} else {
  const result = await drive().catch(crashed)
  await report(base, 'tabs', result)
}

async function drive(): Promise<ScenarioResult> {
  const frames: Window[] = []
  const ready = new Set<number>()
  const pending = new Map<number, { resolve(value: unknown): void; reject(error: Error): void }>()
  let allReady: () => void = () => {}
  const loaded = new Promise<void>((resolve) => {
    allReady = resolve
  })
  addEventListener('message', (event: MessageEvent) => {
    const data = event.data as { ready?: number; id?: number; value?: unknown; error?: string }
    if (data.ready !== undefined) {
      ready.add(data.ready)
      if (ready.size === FRAMES) allReady()
    } else if (data.id !== undefined) {
      const waiter = pending.get(data.id)
      pending.delete(data.id)
      if (data.error !== undefined) waiter?.reject(new Error(data.error))
      else waiter?.resolve(data.value)
    }
  })
  for (let i = 0; i < FRAMES; i++) {
    const element = document.createElement('iframe')
    element.src = `/__runtime/tabs.html?frame=${i}`
    document.body.append(element)
    if (element.contentWindow) frames.push(element.contentWindow)
  }
  await loaded
  let nextId = 0
  const ask = <T>(index: number, command: Omit<Command, 'id'>): Promise<T> => {
    const id = nextId++
    return new Promise<T>((resolve, reject) => {
      pending.set(id, { resolve: resolve as (value: unknown) => void, reject })
      frames[index]?.postMessage({ ...command, id }, base)
    })
  }
  const counters = async () =>
    (await (await fetch(`${base}/__runtime/counters`)).json()) as Record<string, number>
  const check = (condition: boolean, message: string) => {
    if (!condition) throw new Error(message)
  }
  const steps: [string, () => Promise<void>][] = [
    [
      'one tab logs in, every tab has the session',
      async () => {
        const token = await ask<string>(0, { cmd: 'login' })
        const seen = await Promise.all([1, 2].map((i) => ask<string | null>(i, { cmd: 'token' })))
        check(
          seen.every((other) => other === token),
          'the other tabs do not see the session the first one logged in',
        )
      },
    ],
    [
      'a storm from every tab across an expiry: one refresh between them',
      async () => {
        const before = await counters()
        await fetch(`${base}/__runtime/expire`, {
          method: 'POST',
          body: JSON.stringify({ afterRequests: 0 }),
        })
        const answers = await Promise.all(
          frames.map((_, i) => ask<number[]>(i, { cmd: 'storm', label: 'expiry' })),
        )
        const statuses = answers.flat()
        check(
          statuses.length === FRAMES * STORM && statuses.every((status) => status === 200),
          `storm statuses: ${statuses.filter((s) => s !== 200).length} of ${statuses.length} not 200`,
        )
        const after = await counters()
        check(
          (after.refreshes ?? 0) - (before.refreshes ?? 0) === 1,
          `${(after.refreshes ?? 0) - (before.refreshes ?? 0)} refreshes between the tabs, expected 1`,
        )
      },
    ],
    [
      'one tab logs out, every tab loses the session',
      async () => {
        await ask(1, { cmd: 'logout' })
        for (let attempt = 0; ; attempt++) {
          const left = await Promise.all([0, 2].map((i) => ask<string | null>(i, { cmd: 'token' })))
          if (left.every((token) => token === null)) break
          check(attempt < 150, 'the other tabs still hold the session 15 s after the logout')
          await new Promise((resolve) => setTimeout(resolve, 100))
        }
      },
    ],
  ]
  const results: StepResult[] = []
  for (const [step, run] of steps) {
    try {
      await run()
      results.push({ step, ok: true, detail: '' })
    } catch (error) {
      results.push({ step, ok: false, detail: error instanceof Error ? error.message : String(error) })
      break
    }
  }
  return {
    ok: results.length === steps.length && results.every((r) => r.ok),
    steps: results,
    userAgent: navigator.userAgent,
  }
}
