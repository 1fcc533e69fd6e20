/** Request bodies: small ones (JSON) read with a size limit whatever their Content-Type, and the length a streamed one announces. */
import { RegistryError } from '../errors.ts';

export async function readLimited(request: Request, limit: number): Promise<Uint8Array> {
  const declared = request.headers.get('content-length');
  if (declared !== null && Number(declared) > limit) throw new RegistryError('BODY_TOO_LARGE', `limit is ${limit} bytes`);
  if (!request.body) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for await (const chunk of request.body) {
      size += chunk.byteLength;
      if (size > limit) throw new RegistryError('BODY_TOO_LARGE', `limit is ${limit} bytes`);
      chunks.push(chunk);
    }
  } catch (e) {
    if (e instanceof RegistryError) throw e;
    throw new RegistryError('UPLOAD_ABORTED');
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

/** The Content-Length a streamed body announces; null when chunked or absent. */
export function declaredLength(request: Request): number | null {
  if (request.headers.has('transfer-encoding')) return null;
  const v = request.headers.get('content-length');
  return v !== null && /^\d+$/.test(v) ? Number(v) : null;
}
