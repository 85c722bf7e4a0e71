import { Gr4vy } from '@gr4vy/sdk'
import { HTTPClient } from '@gr4vy/sdk/lib/http.js'
import { Gr4vyError } from '@gr4vy/sdk/models/errors/gr4vyerror.js'
import { expect } from 'vitest'
import type { Echo } from '../../helpers/adapters.js'
import { describeDropIn } from '../../helpers/drop-in.js'

// Gr4vy's TypeScript SDK takes its transport as `new HTTPClient({ fetcher })` and calls `fetcher(request)` with
// a Request. Without `bearerAuth` (and GR4VY_BEARER_AUTH) it sends no Authorization, so plantly.fetch adds its
// own. `paymentServices.verify` (POST /payment-services/verify) accepts any JSON answer, so the mock's echo
// comes back as the SDK's result.
describeDropIn('@gr4vy/sdk', (plantly, server) => {
  const sent: string[] = []
  const httpClient = new HTTPClient({ fetcher: plantly.fetch })
  httpClient.addHook('beforeRequest', async (request) => {
    sent.push(await request.clone().text())
  })
  const gr4vy = new Gr4vy({ serverURL: server.url, httpClient })
  const verify = (definition: string, serverURL?: string) =>
    gr4vy.paymentServices.verify(
      { paymentServiceDefinitionId: definition, fields: [{ key: 'api_key', value: 'ünïcode' }] },
      undefined,
      serverURL === undefined ? undefined : { serverURL },
    ) as Promise<Echo>
  return {
    call: (n) => verify(`definition-${n}`).then((echo) => (echo.ok ? 200 : 0)),
    async postJson() {
      const echo = await verify('mock-card')
      const json = sent.at(-1) ?? ''
      expect(JSON.parse(json)).toEqual({
        payment_service_definition_id: 'mock-card',
        fields: [{ key: 'api_key', value: 'ünïcode' }],
      })
      return { echo, path: '/payment-services/verify', json }
    },
    elsewhere: (origin) =>
      verify('elsewhere', origin).then(
        () => 200,
        (error: unknown) => (error instanceof Gr4vyError ? error.statusCode : Promise.reject(error)),
      ),
  }
})
