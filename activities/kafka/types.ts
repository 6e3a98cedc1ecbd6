/**
 * The event publishing port. The kafkajs adapter (idempotent producer, acks=all) implements it; unit
 * tests use an in-memory fake. Values are already-encoded protobuf bytes.
 */
export interface OutgoingEvent {
  topic: string;
  /** Partition key, e.g. member_id or batch id (ordering per key). */
  key: string;
  value: Uint8Array;
  /** Stable id for consumers to de-duplicate (event-id header). */
  eventId: string;
  /** Fully qualified protobuf message name, e.g. "rte.v1.BatchJobEvent" (schema header). */
  schema: string;
  /** Extra headers (content-type is always application/x-protobuf). */
  headers?: Record<string, string>;
}

export interface EventPublisher {
  /** Resolves once the broker acknowledged every event (acks=all); throws if any could not be written. */
  publish(events: readonly OutgoingEvent[]): Promise<void>;
  close(): Promise<void>;
}
