/**
 * TLS-PSK identities (EMQX's `psk_authentication`): a file of `identity<separator>hexkey` lines,
 * as EMQX's psk init_file, e.g. with the default separator ":"
 *
 *   # comments and blank lines are ignored
 *   device-1:6b6579316b6579316b657931
 *   device-2:00112233445566778899aabbccddeeff
 *
 * The key is hexadecimal, as `mosquitto_pub --psk` takes it, so the same text configures both
 * ends. Identities are case-sensitive; a later line for the same identity replaces the earlier.
 */

import { readFileSync } from 'node:fs';
import { ConfigError } from '../errors.js';

/** Identity -> key. */
export type PskTable = ReadonlyMap<string, Buffer>;

/** The configuration key the file comes from, for error messages. */
const INIT_FILE_KEY = 'psk_authentication.init_file';

const HEX = /^(?:[0-9a-fA-F]{2})+$/;

/** Parses the text of a PSK file; `file` only names it in errors. */
export function parsePskFile(text: string, separator: string, file: string): Map<string, Buffer> {
  const table = new Map<string, Buffer>();
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '' || line.startsWith('#')) continue;
    const at = line.indexOf(separator);
    const where = `${file}:${i + 1}`;
    if (at <= 0) {
      throw new ConfigError(`${where}: expected "identity${separator}hexkey"`, INIT_FILE_KEY);
    }
    const identity = line.slice(0, at);
    const key = line.slice(at + separator.length).trim();
    if (!HEX.test(key)) {
      throw new ConfigError(`${where}: the key of "${identity}" is not hexadecimal bytes`, INIT_FILE_KEY);
    }
    table.set(identity, Buffer.from(key, 'hex'));
  }
  return table;
}

/** Reads a PSK file; a missing or unreadable file is a ConfigError naming the key and the path. */
export function loadPskFile(file: string, separator: string): Map<string, Buffer> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? String(error);
    throw new ConfigError(`${INIT_FILE_KEY}: cannot read ${file} (${code})`, INIT_FILE_KEY, { cause: error });
  }
  return parsePskFile(text, separator, file);
}
