/**
 * Coalesces writes: everything queued for one socket during one turn of the event loop
 * leaves in a single write. A socket registers once per turn; one microtask flushes all of
 * them after the current I/O callback returns.
 */
export interface Flushable {
  flush(): void;
}

export class FlushQueue {
  #dirty: Flushable[] = [];
  #scheduled = false;
  #run = () => {
    this.#scheduled = false;
    const list = this.#dirty;
    this.#dirty = [];
    for (let i = 0; i < list.length; i++) list[i]!.flush();
  };

  add(item: Flushable): void {
    this.#dirty.push(item);
    if (!this.#scheduled) {
      this.#scheduled = true;
      queueMicrotask(this.#run);
    }
  }
}
