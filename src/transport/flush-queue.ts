import { OutputArena } from '../protocol/index.js';

/**
 * Coalesces writes: everything queued for one socket during one turn of the event loop
 * leaves in a single write. A socket registers once per turn; one microtask flushes all of
 * them after the current I/O callback returns.
 *
 * It also owns the arena those sockets build small frames in: when every write of a run
 * went to the kernel at once, nothing in the arena is referenced any more and it is
 * rewound; when one was left queued, the arena moves on to a fresh block.
 */
export interface Flushable {
  /** True when nothing written is still queued (the kernel took it all). */
  flush(): boolean;
}

export class FlushQueue {
  readonly arena: OutputArena;
  #dirty: Flushable[] = [];
  #spare: Flushable[] = [];
  #scheduled = false;
  #run = () => {
    this.#scheduled = false;
    const list = this.#dirty;
    this.#dirty = this.#spare;
    let taken = true;
    for (let i = 0; i < list.length; i++) if (!list[i]!.flush()) taken = false;
    list.length = 0;
    this.#spare = list;
    if (!taken) this.arena.retire();
    else if (this.#dirty.length === 0) this.arena.release();
  };

  constructor(arenaBlockBytes?: number) {
    this.arena = new OutputArena(arenaBlockBytes);
  }

  add(item: Flushable): void {
    this.#dirty.push(item);
    if (!this.#scheduled) {
      this.#scheduled = true;
      queueMicrotask(this.#run);
    }
  }
}
