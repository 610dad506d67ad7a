/**
 * Wills waiting for their Will Delay Interval, kept in the durable store's `wills` table so that
 * after a restart (clean or a crash) their timers resume: one row per client id, the will as a
 * stored message (its will properties as a property block) and the client's info as JSON, which
 * authorization needs when the will is finally published.
 */

import { decodePropertyBlock, encodePropertyBlock, type Will, WILL } from '../protocol/index.js';
import type { MessageTable } from '../persistence/storage.js';
import type { ClientInfo } from './types.js';
import type { PendingWill, PendingWills, WillJournal } from './wills.js';

class TableWillJournal implements WillJournal {
  constructor(private readonly table: MessageTable) {}

  scheduled(p: PendingWill): void {
    const w = p.will;
    this.table.put({
      key: p.client.clientId,
      due: p.due,
      message: {
        topic: w.topic,
        payload: w.payload,
        qos: w.qos,
        retain: w.retain,
        properties: w.properties === null ? null : encodePropertyBlock(w.properties, WILL),
        from: p.client.clientId,
        timestamp: Date.now(),
      },
      meta: JSON.stringify(p.client),
    });
  }

  removed(clientId: string): void {
    this.table.delete(clientId);
  }
}

/** Reschedules the stored wills and journals `wills` from now on. Returns how many came back. */
export function restoreWills(wills: PendingWills, table: MessageTable): number {
  let n = 0;
  for (const row of table.rows()) {
    const m = row.message;
    const will: Will = {
      topic: m.topic,
      payload: Buffer.from(m.payload),
      qos: m.qos,
      retain: m.retain,
      properties: m.properties === null ? null : decodePropertyBlock(m.properties, WILL),
    };
    const client = JSON.parse(row.meta ?? '{}') as ClientInfo;
    wills.schedule(client, will, row.due);
    n++;
  }
  wills.journal = new TableWillJournal(table);
  return n;
}
