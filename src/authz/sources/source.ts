/**
 * An authorization source: one link of the chain (EMQX's emqx_authz_source behaviour). Asked in
 * the configured order, each answers `allow` or `deny` (its rules matched; the chain ends) or
 * `nomatch` (nothing to say; the next source is asked). An HTTP service's `ignore` and its
 * failures are `nomatch` too.
 *
 * Sources that read memory or a synchronous store answer synchronously; only a source that
 * needs the network (HTTP) returns a Promise, and only then does the check become
 * asynchronous (see authz.ts).
 */

import type { AuthzRequest } from '../../broker/hooks.js';
import type { ClientInfo } from '../../broker/types.js';

export type SourceAnswer = 'allow' | 'deny' | 'nomatch';

export interface AuthzSource {
  /** The configured type: `file`, `built_in_database`, `http`. */
  readonly type: string;
  /**
   * Answers for one request. `words` is `request.topic` split at `/` (split once for all
   * sources).
   */
  authorize(
    client: ClientInfo,
    request: AuthzRequest,
    words: readonly string[],
  ): SourceAnswer | Promise<SourceAnswer>;
  /** Releases what the source holds (connections). */
  close?(): Promise<void>;
}
