import { type NextRequest, NextResponse } from 'next/server'
import { parseSetCookie, sessions } from './lib/plantly'

// Refresh ahead during a navigation: a Server Component cannot set a cookie, so the proxy renews a session that
// is due before the page renders, sets the new cookie on the response, and hands it to the page through the
// request it forwards.
export async function proxy(request: NextRequest) {
  const session = (await sessions()).open(request)
  await session.accessToken().catch(() => undefined) // refreshes first when the token is due; no session: none
  const renewed = session.cookies()
  if (renewed.length === 0) return NextResponse.next()
  for (const line of renewed) {
    const { name, value, clears } = parseSetCookie(line)
    if (clears) request.cookies.delete(name)
    else request.cookies.set(name, value)
  }
  const response = NextResponse.next({ request: { headers: request.headers } })
  for (const line of renewed) response.headers.append('set-cookie', line)
  return response
}

export const config = {
  // Pages, Route Handlers and Server Actions; not the static files.
  matcher: ['/((?!_next/static|_next/image|favicon.ico).*)'],
}
