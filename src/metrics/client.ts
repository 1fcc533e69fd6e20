/**
 * The worker's side of its questions to the supervisor (the metrics of all workers; the
 * acknowledgement of its final counts): each question gets an id, and the answer with that id
 * resolves it. Transport-free: the caller sends, and hands the answers in.
 */
export class Replies<T> {
  #seq = 0;
  readonly #waiting = new Map<number, (value: T | null) => void>();

  constructor(readonly timeoutMs: number) {}

  /**
   * Asks with `send(id)` (false: could not be sent). Resolves with the answer, or null when the
   * question could not be sent or was not answered within `timeoutMs`.
   */
  request(send: (id: number) => boolean): Promise<T | null> {
    const id = ++this.#seq;
    return new Promise((resolve) => {
      const timer = setTimeout(() => done(null), this.timeoutMs);
      const done = (value: T | null) => {
        clearTimeout(timer);
        this.#waiting.delete(id);
        resolve(value);
      };
      this.#waiting.set(id, done);
      if (!send(id)) done(null);
    });
  }

  /** The answer to question `id` (ignored when it came too late). */
  answer(id: number, value: T): void {
    this.#waiting.get(id)?.(value);
  }
}
