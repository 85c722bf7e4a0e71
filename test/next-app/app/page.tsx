import { headers } from 'next/headers'
import { sessions } from '../lib/plantly'
import { logIn, logOut } from './actions'

const PATHS = ['/buyers', '/plants', '/orders']

// A Server Component: it reads the session the proxy may just have renewed, and makes three calls in parallel.
// It cannot set a cookie: a refresh made here stays with the process (or the store) and reaches the browser on its
// next request.
export default async function Home() {
  const requestHeaders = await headers() // first: this page is rendered for each request
  const session = (await sessions()).open({ headers: requestHeaders })
  if (!(await session.getSession())) {
    return (
      <main>
        <form action={logIn}>
          <input name="email" type="email" aria-label="email" />
          <input name="password" type="password" aria-label="password" />
          <button type="submit">Log in</button>
        </form>
      </main>
    )
  }
  const answers = await Promise.all(
    PATHS.map(async (path) => {
      const response = await session.fetch(path)
      const body = (await response.json()) as { path?: string }
      return { path, status: response.status, echoed: body.path }
    }),
  )
  return (
    <main>
      <ul>
        {answers.map((answer) => (
          <li key={answer.path} data-path={answer.path} data-status={answer.status}>
            {answer.path}: {answer.status}
          </li>
        ))}
      </ul>
      <form action={logOut}>
        <button type="submit">Log out</button>
      </form>
    </main>
  )
}
