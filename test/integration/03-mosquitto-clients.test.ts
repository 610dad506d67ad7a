/**
 * 03 mosquitto clients: the broker with Eclipse Mosquitto's command-line clients (libmosquitto),
 * an MQTT implementation independent of ours and of MQTT.js, for MQTT 5.0, 3.1.1 and 3.1.
 *
 * `bash scripts/services.sh` installs them (Debian's mosquitto-clients); without them the tests
 * fail in before() with that instruction.
 */

import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import type { ClientInfo } from '../../src/broker/types.js';
import {
  clientId,
  closeClients,
  type StartedBroker,
  startBroker,
  WAIT_MS,
  within,
} from '../helpers/broker.js';
import { requireCommand } from '../helpers/services.js';

const HINT = "it installs Debian's mosquitto-clients";

interface Finished {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

const children = new Set<ChildProcess>();

/** Runs a command; resolves when it exits, with its output. */
function run(command: string, args: string[]): { child: ChildProcess; done: Promise<Finished> } {
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

function describeRun(name: string, r: Finished): string {
  return `${name} exited with ${r.code ?? r.signal}; stdout: ${JSON.stringify(r.stdout)}; stderr: ${JSON.stringify(r.stderr)}`;
}

const PROTOCOLS = [
  ['mqttv5', '5.0'],
  ['mqttv311', '3.1.1'],
  ['mqttv31', '3.1'],
] as const;

describe('03 mosquitto clients', () => {
  let b: StartedBroker;
  let mosquittoSub: string;
  let mosquittoPub: string;

  before(async () => {
    mosquittoSub = requireCommand('mosquitto_sub', HINT);
    mosquittoPub = requireCommand('mosquitto_pub', HINT);
    b = await startBroker();
  });

  after(async () => {
    for (const child of children) child.kill('SIGKILL');
    await closeClients();
    await b.close();
  });

  /** Resolves when the broker has the subscription of `id` to `filter`. */
  function subscribed(id: string, filter: string): Promise<void> {
    return within(
      new Promise<void>((resolve) => {
        const cb = (client: ClientInfo, f: string): void => {
          if (client.clientId !== id || f !== filter) return;
          b.aviary.hooks.remove('session.subscribed', cb);
          resolve();
        };
        b.aviary.hooks.add('session.subscribed', cb);
      }),
      WAIT_MS,
      `the broker to report the subscription of ${id} to ${filter}`,
    );
  }

  const common = (): string[] => ['-h', '127.0.0.1', '-p', String(b.port)];

  for (const [protocol, name] of PROTOCOLS) {
    for (const qos of [0, 1] as const) {
      test(`${name} (-V ${protocol}): mosquitto_sub -q ${qos} receives what mosquitto_pub -q ${qos} sends`, async () => {
        const topic = `mosq/${protocol}/q${qos}`;
        const subId = clientId(`sub${protocol}`);
        const ready = subscribed(subId, topic);
        // -C 1: exit after one message; -W: a safety net so a lost message cannot hang the test.
        const sub = run(mosquittoSub, [
          ...common(),
          '-V',
          protocol,
          '-i',
          subId,
          '-t',
          topic,
          '-q',
          String(qos),
          '-C',
          '1',
          '-W',
          '20',
        ]);
        await Promise.race([
          ready,
          sub.done.then((r) => {
            throw new Error(describeRun('mosquitto_sub', r));
          }),
        ]);

        const pub = await within(
          run(mosquittoPub, [...common(), '-V', protocol, '-t', topic, '-m', 'hi', '-q', String(qos)]).done,
          20_000,
          'mosquitto_pub to exit',
        );
        assert.equal(pub.code, 0, describeRun('mosquitto_pub', pub));

        const got = await within(sub.done, 20_000, 'mosquitto_sub to exit');
        assert.equal(got.code, 0, describeRun('mosquitto_sub', got));
        assert.equal(got.stdout, 'hi\n');
      });
    }

    test(`${name} (-V ${protocol}): a retained message from mosquitto_pub -r reaches a later mosquitto_sub`, async () => {
      const topic = `mosq/${protocol}/retained`;
      const pub = await run(mosquittoPub, [
        ...common(),
        '-V',
        protocol,
        '-t',
        topic,
        '-m',
        'kept',
        '-r',
        '-q',
        '1',
      ]).done;
      assert.equal(pub.code, 0, describeRun('mosquitto_pub', pub));

      // -v prints "topic payload"; the retained message arrives on subscribe.
      const sub = await within(
        run(mosquittoSub, [...common(), '-V', protocol, '-t', topic, '-C', '1', '-W', '20', '-v']).done,
        20_000,
        'mosquitto_sub to exit',
      );
      assert.equal(sub.code, 0, describeRun('mosquitto_sub', sub));
      assert.equal(sub.stdout, `${topic} kept\n`);

      // An empty retained message (-n) deletes it.
      const clear = await run(mosquittoPub, [...common(), '-V', protocol, '-t', topic, '-n', '-r', '-q', '1'])
        .done;
      assert.equal(clear.code, 0, describeRun('mosquitto_pub', clear));
    });
  }
});
