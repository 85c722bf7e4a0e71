// Host for a Vercel-style edge runtime (edge-runtime): a `fetch` event listener, as an edge function is written,
// that runs the scenario for the request `/?base=<mock URL>`.
import { runScenario } from '../scenario.js'
import { crashed, report } from './report.js'

interface FetchEvent extends Event {
  request: Request
  respondWith(response: Promise<Response>): void
}

addEventListener('fetch', (event) => {
  const { request } = event as FetchEvent
  ;(event as FetchEvent).respondWith(
    (async () => {
      const base = new URL(request.url).searchParams.get('base')
      if (!base) return new Response('missing ?base=', { status: 400 })
      const result = await runScenario(base).catch(crashed)
      await report(base, 'edge', result)
      return Response.json(result)
    })(),
  )
})
