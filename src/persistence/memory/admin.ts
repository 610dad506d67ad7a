/**
 * Dashboard users and API keys in memory (lost at restart; the SQLite backend keeps them).
 * Maps keep insertion order, which is the listing order the interface promises.
 */

import type { AdminStore, AdminUser, ApiKeyRecord } from '../admin.js';

export class MemoryAdminStore implements AdminStore {
  private readonly users = new Map<string, AdminUser>();
  private readonly keys = new Map<string, ApiKeyRecord>();
  /** apiKey -> name, for the per-request lookup. */
  private readonly byKey = new Map<string, string>();

  getUser(username: string): AdminUser | undefined {
    return this.users.get(username);
  }

  putUser(user: AdminUser): void {
    this.users.set(user.username, user);
  }

  deleteUser(username: string): boolean {
    return this.users.delete(username);
  }

  listUsers(): AdminUser[] {
    return [...this.users.values()];
  }

  getApiKey(name: string): ApiKeyRecord | undefined {
    return this.keys.get(name);
  }

  findApiKey(apiKey: string): ApiKeyRecord | undefined {
    const name = this.byKey.get(apiKey);
    return name === undefined ? undefined : this.keys.get(name);
  }

  putApiKey(record: ApiKeyRecord): void {
    const old = this.keys.get(record.name);
    if (old !== undefined) this.byKey.delete(old.apiKey);
    this.keys.set(record.name, record);
    this.byKey.set(record.apiKey, record.name);
  }

  deleteApiKey(name: string): boolean {
    const old = this.keys.get(name);
    if (old === undefined) return false;
    this.byKey.delete(old.apiKey);
    return this.keys.delete(name);
  }

  listApiKeys(): ApiKeyRecord[] {
    return [...this.keys.values()];
  }
}
