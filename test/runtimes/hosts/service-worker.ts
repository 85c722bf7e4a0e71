// Host for a Service Worker (classic script, registered by the page): the page posts 'run' once the worker is
// active, and the worker runs the scenario inside the message event's lifetime.
import { runScenario } from '../scenario.js'
import { crashed, report } from './report.js'

interface ExtendableMessageEvent extends Event {
  waitUntil(promise: Promise<unknown>): void
}

addEventListener('message', (event) => {
  const base = location.origin
  ;(event as unknown as ExtendableMessageEvent).waitUntil(
    runScenario(base)
      .catch(crashed)
      .then((result) => report(base, 'service-worker', result)),
  )
})
