// Host for a dedicated Web Worker, started by the page with `new Worker(url, { type: 'module' })` (Chromium) or
// as a classic worker: the mock is the worker's own origin.
import { runScenario } from '../scenario.js'
import { crashed, report } from './report.js'

const result = await runScenario(location.origin).catch(crashed)
await report(location.origin, 'worker', result)
