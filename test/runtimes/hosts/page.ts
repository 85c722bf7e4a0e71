// Host for a browser page (a module script): the mock is the page's own origin.
import { runScenario } from '../scenario.js'
import { crashed, report } from './report.js'

const result = await runScenario(location.origin).catch(crashed)
await report(location.origin, 'page', result)
