import type { EventPublisher, OutgoingEvent } from './types';

/** EventPublisher fake for unit tests: records what was published; `failNext`/`failWhen` inject errors. */
export class InMemoryEventPublisher implements EventPublisher {
  readonly published: OutgoingEvent[] = [];
  failWhen: ((e: OutgoingEvent) => boolean) | undefined;
  private failures = 0;

  failNext(times = 1): void {
    this.failures += times;
  }

  async publish(events: readonly OutgoingEvent[]): Promise<void> {
    if (this.failures > 0) {
      this.failures--;
      throw new Error('injected publish failure');
    }
    if (this.failWhen && events.some(this.failWhen)) throw new Error('injected publish failure for event');
    this.published.push(...events);
  }

  byTopic(topic: string): OutgoingEvent[] {
    return this.published.filter((e) => e.topic === topic);
  }

  async close(): Promise<void> {}
}
