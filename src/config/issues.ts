/**
 * Turns zod's validation issues into one readable ConfigError, one line per bad key:
 *
 *   invalid configuration (2 problems):
 *     listeners.tcp.default.bind: expected "host:port" or a port number, got "abc"
 *     mqtt.max_inflght: unknown key (did you mean "max_inflight"?)
 *
 * Paths are written as in emqx.conf and in environment variable names: dotted keys, array
 * positions counted from 1, and a key that is not a plain word in quotes.
 */
import type { z } from 'zod';
import { ConfigError } from '../errors.js';

type Issue = z.core.$ZodIssue;
type PathSegment = PropertyKey;

/** Adds a note to a problem line, e.g. which environment variable set the key. */
export type PathAnnotator = (path: string) => string | undefined;

const PLAIN_KEY = /^[A-Za-z0-9_-]+$/;
/** How a problem with the configuration as a whole (not one key) is labelled. */
export const ROOT_PATH = '(root)';

/** Formats a key path: `listeners.tcp.default.bind`, `ssl_options.versions.1`, `zones."a.b"`. */
export function formatPath(path: readonly PathSegment[]): string {
  if (path.length === 0) return ROOT_PATH;
  return path
    .map((segment) => {
      if (typeof segment === 'number') return String(segment + 1);
      const key = String(segment);
      return PLAIN_KEY.test(key) ? key : JSON.stringify(key);
    })
    .join('.');
}

/** One `{ path, message }` per problem, in the order zod found them. */
export function describeIssues(issues: readonly Issue[]): { path: string; message: string }[] {
  const problems: { path: string; message: string }[] = [];
  for (const issue of issues) {
    if (issue.code === 'unrecognized_keys') {
      // One line per key; fields.ts `section` writes the messages in the order of `keys`.
      const lines = issue.message.split('\n');
      issue.keys.forEach((key, index) => {
        const message = lines.length === issue.keys.length ? (lines[index] ?? '') : 'unknown key';
        problems.push({ path: formatPath([...issue.path, key]), message });
      });
    } else if (issue.code === 'invalid_key') {
      problems.push({ path: formatPath(issue.path), message: issue.issues[0]?.message ?? issue.message });
    } else {
      problems.push({ path: formatPath(issue.path), message: issue.message });
    }
  }
  return problems;
}

/** One ConfigError listing every problem; its `key` is the first problem's path. */
export function issuesToConfigError(
  issues: readonly Issue[],
  annotate: PathAnnotator = () => undefined,
): ConfigError {
  const problems = describeIssues(issues);
  const lines = problems.map(({ path, message }) => {
    const note = annotate(path);
    return `  ${path}: ${message}${note === undefined ? '' : ` (${note})`}`;
  });
  const count = problems.length === 1 ? '1 problem' : `${problems.length} problems`;
  const first = problems[0]?.path ?? ROOT_PATH;
  return new ConfigError(
    `invalid configuration (${count}):\n${lines.join('\n')}`,
    first === ROOT_PATH ? '' : first,
  );
}
