/**
 * Byte builders shared by tests that write packets by hand: hex text and variable byte integers.
 */

/** Bytes from hex text; spaces, newlines and `|` between bytes are ignored. */
export function hex(text: string): Buffer {
  const clean = text.replace(/[\s|]/g, '');
  if (!/^([0-9a-f]{2})*$/i.test(clean)) throw new Error(`not hex bytes: ${text}`);
  return Buffer.from(clean, 'hex');
}

/** A variable byte integer. */
export function varint(n: number): Buffer {
  const out: number[] = [];
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    out.push(byte);
  } while (n > 0);
  return Buffer.from(out);
}
