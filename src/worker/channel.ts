/**
 * The worker's end of the IPC channel (src/ipc/protocol.ts): sending, answering the supervisor's
 * `collect`, asking for the metrics of all workers, and handing over the final counts.
 */
import type { MasterMessage, WorkerMessage } from '../ipc/protocol.ts';
import { Replies } from '../metrics/client.ts';
import { METRICS_CONTENT_TYPE, type WorkerMetrics } from '../metrics/registry.ts';

export class Channel {
  /** answers to `metrics?` (the sums over all workers) */
  readonly #sums = new Replies<string>(2000);
  /** answers to `last` */
  readonly #kept = new Replies<true>(500);

  constructor(readonly metrics: WorkerMetrics) {}

  /** false when the message could not be sent (a false from process.send only means a backlog) */
  send(m: WorkerMessage): boolean {
    if (!process.send || process.connected === false) return false;
    try {
      process.send(m);
      return true;
    } catch {
      // the channel is gone: the disconnect handler takes over
      return false;
    }
  }

  onMessage(m: MasterMessage): void {
    if (m?.t === 'collect') this.send({ t: 'collected', id: m.id, json: this.metrics.json() });
    else if (m?.t === 'metrics') this.#sums.answer(m.id, m.text);
    else if (m?.t === 'kept') this.#kept.answer(m.id, true);
  }

  /** GET /metrics: the sum over all workers, or this worker's own when the supervisor is silent */
  async metricsResponse(): Promise<Response> {
    const text =
      (await this.#sums.request((id) => this.send({ t: 'metrics?', id }))) ??
      (await this.metrics.ownText(
        `registry: the sum over workers is unavailable (no answer from the supervisor); metrics of worker ${process.pid} only`,
      ));
    return new Response(text, { headers: { 'content-type': METRICS_CONTENT_TYPE } });
  }

  /**
   * Hands the final counts to the supervisor, which keeps them in the sums once this worker is
   * gone (else what it counted since the last scrape would be lost); waits for the
   * acknowledgement, at most 500 ms.
   */
  async handOver(): Promise<void> {
    const json = this.metrics.json();
    await this.#kept.request((id) => this.send({ t: 'last', id, json }));
  }
}
