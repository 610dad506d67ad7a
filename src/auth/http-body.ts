/**
 * Reading the body of an HTTP service's answer, shared by HTTP authentication (src/auth/http.ts)
 * and the HTTP authorization source (src/authz/sources/http.ts): a size limit, and EMQX's two
 * body forms (a JSON object, or a form-encoded one).
 */

export const JSON_TYPE = 'application/json';
export const FORM_TYPE = 'application/x-www-form-urlencoded';

/** The body as text; throws once it is over `max` bytes (nothing more is kept). */
export async function readLimited(body: AsyncIterable<Buffer>, max: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > max) throw new Error(`response body over ${max} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * The fields of a JSON object or form-encoded body by its content type; undefined when it is
 * neither, or not an object, or cannot be parsed.
 */
export function parseBody(contentType: string, text: string): Record<string, unknown> | undefined {
  try {
    if (contentType.startsWith(JSON_TYPE)) {
      const parsed: unknown = JSON.parse(text);
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined;
      return parsed as Record<string, unknown>;
    }
    if (contentType.startsWith(FORM_TYPE)) return Object.fromEntries(new URLSearchParams(text));
  } catch {
    return undefined;
  }
  return undefined;
}
