/**
 * Temporary files for configuration tests: each call to `tempDir` makes a fresh folder under
 * the OS temp dir, removed when the test file's `after` hook calls `removeTempDirs`.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { ConfigError } from '../../../src/errors.js';

const created: string[] = [];

/** A fresh folder holding `files` (relative path -> content); returns its path. */
export function tempDir(files: Readonly<Record<string, string>> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'aviary-config-'));
  created.push(dir);
  for (const [name, content] of Object.entries(files)) {
    const path = join(dir, name);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, content);
  }
  return dir;
}

/** Removes every folder `tempDir` made. */
export function removeTempDirs(): void {
  for (const dir of created.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/** Runs `fn`, expecting a ConfigError whose message matches every pattern; returns the error. */
export function expectConfigError(fn: () => unknown, ...patterns: (RegExp | string)[]): ConfigError {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  if (!(caught instanceof ConfigError)) {
    throw new Error(`expected a ConfigError, got ${caught === undefined ? 'no error' : String(caught)}`);
  }
  for (const pattern of patterns) {
    const ok = typeof pattern === 'string' ? caught.message.includes(pattern) : pattern.test(caught.message);
    if (!ok)
      throw new Error(`ConfigError message ${JSON.stringify(caught.message)} does not match ${pattern}`);
  }
  return caught;
}
