/**
 * Errors of the authorization layer, in Aviary's catalogue (docs/errors.md).
 */

import { AviaryError } from '../errors.js';

/**
 * An ACL file (EMQX's acl.conf, Erlang terms) cannot be read: a syntax error, or a term that is
 * not a rule. The message names the file, line and column: `acl.conf:3:17: expected ...`.
 */
export class AclParseError extends AviaryError {
  constructor(
    message: string,
    /** 1-based line of the offending text (0 when the whole file is concerned). */
    readonly line: number,
    /** 1-based column. */
    readonly column: number,
    /** The file name as given, or '<rules>' for rules given inline. */
    readonly file: string,
  ) {
    super('AVY_ERR_ACL_PARSE', line > 0 ? `${file}:${line}:${column}: ${message}` : `${file}: ${message}`);
  }
}
