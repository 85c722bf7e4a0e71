'use server'

import { cookies, headers } from 'next/headers'
import { redirect } from 'next/navigation'
import { parseSetCookie, sessions } from '../lib/plantly'

// Server Actions can set cookies (through next/headers' cookies()), so they log in and out.

/** Apply the session's Set-Cookie values through cookies(), with their attributes. */
async function store(setCookies: string[]): Promise<void> {
  const jar = await cookies()
  for (const line of setCookies) {
    const { name, value, clears } = parseSetCookie(line)
    if (clears) {
      jar.delete({ name, path: '/' })
      continue
    }
    const attributes = line
      .split(';')
      .slice(1)
      .map((part) => part.trim().toLowerCase())
    const maxAge = attributes.find((attribute) => attribute.startsWith('max-age='))
    jar.set(name, value, {
      httpOnly: true,
      secure: attributes.includes('secure'),
      sameSite: 'lax',
      path: '/',
      ...(maxAge ? { maxAge: Number(maxAge.slice('max-age='.length)) } : {}),
    })
  }
}

export async function logIn(form: FormData): Promise<void> {
  const session = (await sessions()).open({ headers: await headers() })
  await session.login({ email_address: String(form.get('email')), password: String(form.get('password')) })
  await store(session.cookies())
  redirect('/')
}

export async function logOut(): Promise<void> {
  const session = (await sessions()).open({ headers: await headers() })
  await session.logout()
  await store(session.cookies())
  redirect('/')
}
