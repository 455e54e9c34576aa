/** When the wait limit or the queue's bound refuses an entry. */
export class AdmissionRefused extends Error {
  constructor(
    readonly reason: 'queue_full' | 'waited_too_long',
    /** How long a retry should wait, in whole seconds (Retry-After). */
    readonly retryAfterSeconds: number,
  ) {
    super(`admission refused: ${reason}`);
  }
}

export interface AdmissionLimits {
  /** How many holders may run at once. */
  concurrency: number;
  /** Waiters over all keys; one more is refused at once. */
  maxQueued: number;
  /** Waiters of one key; one more is refused at once. */
  maxQueuedPerKey: number;
  /** How long a waiter may wait before it is refused. */
  maxWaitMs: number;
}

/** The clock and the timer the queue uses; injected so tests control time without sleeping. */
export interface AdmissionClock {
  now(): number;
  setTimeout(callback: () => void, ms: number): { cancel(): void };
}

export const systemClock: AdmissionClock = {
  now: () => Date.now(),
  setTimeout(callback, ms) {
    const timer = setTimeout(callback, ms);
    timer.unref();
    return { cancel: () => clearTimeout(timer) };
  },
};

interface Waiter {
  key: string;
  enqueuedAt: number;
  admit: () => void;
  refuse: (error: AdmissionRefused) => void;
  timer: { cancel(): void };
}

/** A held slot: give it back once, when the work it admitted is done. */
export type Release = () => void;

/**
 * A bounded admission queue, fair between keys (users): at most `concurrency` holders at once;
 * others wait, and a freed slot goes to the key that was served longest ago (round robin over
 * the keys with waiters, each key's waiters in arrival order), so one key's burst never holds
 * back another key's single request by more than one slot per key ahead of it. A waiter past
 * `maxWaitMs`, or one that finds the queue (or its key's share) full, is refused.
 */
export class FairAdmission {
  private holders = 0;
  private queued = 0;
  // Keys with waiters, in the order they are served; each key's waiters in arrival order.
  private readonly rotation = new Map<string, Waiter[]>();
  // Work that finishes what was admitted before (it frees resources): served first, never refused.
  private readonly urgent: Array<() => void> = [];

  constructor(
    readonly limits: AdmissionLimits,
    private readonly clock: AdmissionClock = systemClock,
  ) {}

  /** Holders now, and waiters now (for metrics and health). */
  get running(): number {
    return this.holders;
  }

  get waiting(): number {
    return this.queued + this.urgent.length;
  }

  /**
   * A slot ahead of every waiter, never refused and never timed out: for the work that ends what
   * an earlier slot started (a turn's persist-after), so admitted work drains before new work.
   */
  acquireUrgent(): Promise<Release> {
    if (this.holders < this.limits.concurrency) {
      this.holders++;
      return Promise.resolve(this.releaser());
    }
    return new Promise<Release>((resolve) => this.urgent.push(() => resolve(this.releaser())));
  }

  /** Resolves with a release function once a slot is free; rejects with `AdmissionRefused`. */
  acquire(key: string): Promise<Release> {
    if (this.holders < this.limits.concurrency && this.queued === 0) {
      this.holders++;
      return Promise.resolve(this.releaser());
    }
    const line = this.rotation.get(key);
    if (this.queued >= this.limits.maxQueued || (line?.length ?? 0) >= this.limits.maxQueuedPerKey) {
      return Promise.reject(new AdmissionRefused('queue_full', this.retryAfterSeconds()));
    }
    return new Promise<Release>((resolve, reject) => {
      const waiter: Waiter = {
        key,
        enqueuedAt: this.clock.now(),
        admit: () => resolve(this.releaser()),
        refuse: reject,
        timer: { cancel: () => undefined },
      };
      waiter.timer = this.clock.setTimeout(() => this.expire(waiter), this.limits.maxWaitMs);
      if (line) line.push(waiter);
      else this.rotation.set(key, [waiter]);
      this.queued++;
    });
  }

  /** Runs `work` once admitted, giving the slot back however it ends. */
  async run<T>(key: string, work: () => Promise<T>): Promise<T> {
    const release = await this.acquire(key);
    try {
      return await work();
    } finally {
      release();
    }
  }

  private releaser(): Release {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.holders--;
      this.admitNext();
    };
  }

  private admitNext(): void {
    while (this.holders < this.limits.concurrency && this.urgent.length > 0) {
      this.holders++;
      this.urgent.shift()!();
    }
    while (this.holders < this.limits.concurrency && this.queued > 0) {
      // The key served longest ago is first in the map's order; once served it goes to the back.
      const [key, line] = this.rotation.entries().next().value as [string, Waiter[]];
      const waiter = line.shift()!;
      this.rotation.delete(key);
      if (line.length > 0) this.rotation.set(key, line);
      this.queued--;
      waiter.timer.cancel();
      this.holders++;
      waiter.admit();
    }
  }

  private expire(waiter: Waiter): void {
    const line = this.rotation.get(waiter.key);
    const index = line?.indexOf(waiter) ?? -1;
    if (!line || index < 0) return;
    line.splice(index, 1);
    if (line.length === 0) this.rotation.delete(waiter.key);
    this.queued--;
    waiter.refuse(new AdmissionRefused('waited_too_long', this.retryAfterSeconds()));
  }

  // A rough time until the queue drains at its recent pace is not known here; a waiter refused
  // after the whole wait limit is told to come back after a fraction of it.
  private retryAfterSeconds(): number {
    return Math.max(1, Math.ceil(this.limits.maxWaitMs / 4000));
  }
}
