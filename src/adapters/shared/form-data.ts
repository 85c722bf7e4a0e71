/** FormData as the bytes and Content-Type (with its boundary) fetch would send: serialized once, replayed as is. */
export async function serializeFormData(
  form: FormData,
): Promise<{ bytes: ArrayBuffer; contentType: string }> {
  const encoded = new Request('http://localhost/', { method: 'POST', body: form })
  // The Content-Type first: Bun computes it from the unread body and answers null once the body is read.
  const contentType = encoded.headers.get('content-type') ?? 'multipart/form-data'
  return { bytes: await encoded.arrayBuffer(), contentType }
}
