/**
 * The `file` source (EMQX's emqx_authz_file): the rules of an acl.conf, read at start (an
 * unreadable or invalid file stops the broker with the line and column, as EMQX refuses to start
 * with a bad acl.conf) and again by `reload()`.
 *
 * Each client's view of the rules (rule.ts `rulesFor`: the rules whose Who matches it, with its
 * placeholders filled) is computed on the client's first check and kept in a WeakMap, so later
 * checks compare only actions and topics. A reload starts a new generation of views.
 */

import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

import type { AuthzRequest } from '../../broker/hooks.js';
import type { ClientInfo } from '../../broker/types.js';
import { compileAcl } from '../acl-file.js';
import { AclParseError } from '../errors.js';
import { type ClientRule, firstMatch, type Rule, rulesFor } from '../rule.js';
import type { AuthzSource, SourceAnswer } from './source.js';

interface View {
  readonly generation: number;
  readonly rules: readonly ClientRule[];
}

export interface FileSourceOptions {
  /** The acl.conf path (relative: from the working directory). */
  path: string;
  /** Rules given as text instead of a file. */
  rules?: string | undefined;
  /** Told about things EMQX would accept silently (ignored options, invalid filters). */
  onWarning?: (message: string) => void;
}

export class FileSource implements AuthzSource {
  readonly type = 'file';
  private rules: readonly Rule[] = [];
  private generation = 0;
  private readonly views = new WeakMap<ClientInfo, View>();

  constructor(private readonly options: FileSourceOptions) {
    this.reload();
  }

  /** Reads the file (or the inline rules) again; throws AclParseError and keeps the old rules. */
  reload(): void {
    const { path, rules, onWarning } = this.options;
    let text: string;
    try {
      text = rules ?? readFileSync(resolve(path), 'utf8');
    } catch (error) {
      throw new AclParseError(`cannot read the ACL file: ${(error as Error).message}`, 0, 0, path);
    }
    const compiled = compileAcl(text, rules === undefined ? path : '<rules>');
    for (const w of compiled.warnings) onWarning?.(w);
    this.rules = compiled.rules;
    this.generation++;
  }

  /** How many rules the file has. */
  get size(): number {
    return this.rules.length;
  }

  authorize(client: ClientInfo, request: AuthzRequest, words: readonly string[]): SourceAnswer {
    let view = this.views.get(client);
    if (view === undefined || view.generation !== this.generation) {
      view = { generation: this.generation, rules: rulesFor(this.rules, client) };
      this.views.set(client, view);
    }
    return firstMatch(view.rules, request, words) ?? 'nomatch';
  }
}
