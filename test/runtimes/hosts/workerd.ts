// Host for Cloudflare's workerd: a module worker that runs the scenario for the request `/?base=<mock URL>`.
import { runScenario } from '../scenario.js'
import { crashed, report } from './report.js'

export default {
  async fetch(request: Request): Promise<Response> {
    const base = new URL(request.url).searchParams.get('base')
    if (!base) return new Response('missing ?base=', { status: 400 })
    const result = await runScenario(base).catch(crashed)
    await report(base, 'workerd', result)
    return Response.json(result)
  },
}
