// What every host does once the scenario is over: hand the result to the runner, same origin as the mock.
import type { ScenarioResult } from '../scenario.js'

export async function report(base: string, host: string, result: ScenarioResult): Promise<void> {
  await fetch(`${base}/__runtime/result?host=${encodeURIComponent(host)}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(result),
  })
}

/** The scenario's result when the host itself failed before or around it. */
export function crashed(error: unknown): ScenarioResult {
  const detail = error instanceof Error ? `${error.name}: ${error.message}` : String(error)
  return { ok: false, steps: [{ step: 'host', ok: false, detail }], userAgent: '' }
}
