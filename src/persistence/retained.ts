/**
 * The retained-message store interface. The broker core keeps one retained message per topic
 * through it [MQTT-3.3.1-5]; backends (memory now; SQLite with the storage issue) implement it,
 * and main.ts chooses one. The message type is a parameter so this layer does not depend on the
 * core's Message class.
 */
export interface RetainedStore<M> {
  readonly size: number;
  get(topic: string): M | undefined;
  /** Stores or replaces the retained message of a topic. */
  set(topic: string, message: M): void;
  delete(topic: string): boolean;
  /** Retained messages whose topic matches a (valid) topic filter. */
  match(filter: string): Iterable<M>;
}
