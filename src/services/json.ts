/** Decoding JSON request bodies: strict UTF-8, then JSON, whatever the Content-Type. Pure. */
const decoder = new TextDecoder('utf-8', { fatal: true });

export type JsonBody = { ok: true; text: string; value: unknown } | { ok: false };

/** Decodes UTF-8 then JSON; `{ok: false}` for anything that is not a JSON document. */
export function decodeJson(bytes: Uint8Array): JsonBody {
  try {
    const text = decoder.decode(bytes);
    return { ok: true, text, value: JSON.parse(text) as unknown };
  } catch {
    return { ok: false };
  }
}
