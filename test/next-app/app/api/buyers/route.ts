import { sessions } from '../../../lib/plantly'

// A Route Handler gets a Web Request and returns a Response: it can set the cookie a refresh renewed.
export async function GET(request: Request) {
  const session = (await sessions()).open(request)
  const upstream = await session.fetch('/buyers')
  const response = new Response(upstream.body, {
    status: upstream.status,
    headers: { 'content-type': upstream.headers.get('content-type') ?? 'application/json' },
  })
  for (const cookie of session.cookies()) response.headers.append('set-cookie', cookie)
  return response
}
