/**
 * Runs a command-line client (mosquitto_pub, mosquitto_sub, openssl) as a child process and
 * collects its output. Every child started here is remembered; `killChildren()` ends those
 * still running (call it in after()).
 */

import { type ChildProcess, spawn } from 'node:child_process';

export interface Finished {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

const children = new Set<ChildProcess>();

/** Starts `command`; `done` resolves when it exits, with its output. */
export function run(command: string, args: string[]): { child: ChildProcess; done: Promise<Finished> } {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
  const done = new Promise<Finished>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => {
      children.delete(child);
      resolve({ code, signal, stdout, stderr });
    });
  });
  return { child, done };
}

/** One line describing how a command ended, for assertion messages. */
export function describeRun(name: string, r: Finished): string {
  return `${name} exited with ${r.code ?? r.signal}; stdout: ${JSON.stringify(r.stdout)}; stderr: ${JSON.stringify(r.stderr)}`;
}

/** Kills (SIGKILL) every child still running. */
export function killChildren(): void {
  for (const child of children) child.kill('SIGKILL');
  children.clear();
}
