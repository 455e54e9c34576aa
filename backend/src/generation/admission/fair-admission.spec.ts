import { AdmissionRefused, FairAdmission, type AdmissionClock, type AdmissionLimits } from './fair-admission.js';

// A clock the test moves by hand: timers fire only when `advance` passes them.
class ManualClock implements AdmissionClock {
  private at = 0;
  private timers: { due: number; callback: () => void; live: boolean }[] = [];

  now(): number {
    return this.at;
  }

  setTimeout(callback: () => void, ms: number): { cancel(): void } {
    const timer = { due: this.at + ms, callback, live: true };
    this.timers.push(timer);
    return { cancel: () => (timer.live = false) };
  }

  advance(ms: number): void {
    this.at += ms;
    for (const timer of this.timers.filter((t) => t.live && t.due <= this.at)) {
      timer.live = false;
      timer.callback();
    }
  }
}

const limits = (overrides: Partial<AdmissionLimits> = {}): AdmissionLimits => ({
  concurrency: 1,
  maxQueued: 100,
  maxQueuedPerKey: 100,
  maxWaitMs: 1000,
  ...overrides,
});

// Lets settled promises run their callbacks.
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

describe(FairAdmission.name, () => {
  describe('acquire', () => {
    it('admits at once while slots are free, then queues', async () => {
      const admission = new FairAdmission(limits({ concurrency: 2 }), new ManualClock());
      await admission.acquire('a');
      await admission.acquire('b');
      let third = false;
      void admission.acquire('c').then(() => (third = true));
      await settle();
      expect(third).toBe(false);
      expect(admission.running).toBe(2);
      expect(admission.waiting).toBe(1);
    });

    it('gives a freed slot to the user served longest ago, not to the one with most waiters', async () => {
      const admission = new FairAdmission(limits(), new ManualClock());
      const first = await admission.acquire('heavy');
      const order: string[] = [];
      const wait = (key: string, label: string) =>
        admission.acquire(key).then((release) => {
          order.push(label);
          release();
        });
      // The heavy user queues four, then two others queue one each.
      const all = [
        wait('heavy', 'h1'),
        wait('heavy', 'h2'),
        wait('heavy', 'h3'),
        wait('heavy', 'h4'),
        wait('light', 'l1'),
        wait('other', 'o1'),
      ];
      first();
      await Promise.all(all);
      expect(order).toEqual(['h1', 'l1', 'o1', 'h2', 'h3', 'h4']);
    });

    it('keeps each user’s own requests in arrival order', async () => {
      const admission = new FairAdmission(limits(), new ManualClock());
      const first = await admission.acquire('a');
      const order: number[] = [];
      const all = [1, 2, 3].map((n) =>
        admission.acquire(n === 2 ? 'b' : 'a').then((release) => {
          order.push(n);
          release();
        }),
      );
      first();
      await Promise.all(all);
      expect(order).toEqual([1, 2, 3]);
    });

    it('refuses at once past the bound of the whole queue', async () => {
      const admission = new FairAdmission(limits({ maxQueued: 2 }), new ManualClock());
      await admission.acquire('a');
      void admission.acquire('b');
      void admission.acquire('c');
      await expect(admission.acquire('d')).rejects.toMatchObject({ reason: 'queue_full' });
      expect(admission.waiting).toBe(2);
    });

    it('refuses at once past one user’s share, while others may still queue', async () => {
      const admission = new FairAdmission(limits({ maxQueuedPerKey: 1 }), new ManualClock());
      await admission.acquire('a');
      void admission.acquire('a');
      await expect(admission.acquire('a')).rejects.toBeInstanceOf(AdmissionRefused);
      let other = false;
      void admission.acquire('b').then(
        () => (other = true),
        () => undefined,
      );
      await settle();
      expect(admission.waiting).toBe(2);
      expect(other).toBe(false);
    });

    it('refuses a waiter after the wait limit, with a Retry-After, and frees its place', async () => {
      const clock = new ManualClock();
      const admission = new FairAdmission(limits({ maxWaitMs: 8000 }), clock);
      const held = await admission.acquire('a');
      const waiting = admission.acquire('b');
      clock.advance(7999);
      await settle();
      expect(admission.waiting).toBe(1);
      clock.advance(1);
      await expect(waiting).rejects.toMatchObject({ reason: 'waited_too_long', retryAfterSeconds: 2 });
      expect(admission.waiting).toBe(0);
      // The refused waiter does not take the slot when it is freed.
      held();
      expect(admission.running).toBe(0);
    });

    it('admits a waiter before its limit without refusing it later', async () => {
      const clock = new ManualClock();
      const admission = new FairAdmission(limits({ maxWaitMs: 1000 }), clock);
      const held = await admission.acquire('a');
      const waiting = admission.acquire('b');
      clock.advance(500);
      held();
      const release = await waiting;
      clock.advance(5000);
      await settle();
      expect(admission.running).toBe(1);
      release();
      expect(admission.running).toBe(0);
    });

    it('does not let a newcomer pass waiters when a slot frees', async () => {
      const admission = new FairAdmission(limits({ concurrency: 1 }), new ManualClock());
      const held = await admission.acquire('a');
      const order: string[] = [];
      const queued = admission.acquire('b').then((r) => {
        order.push('b');
        return r;
      });
      held();
      const late = admission.acquire('c').then((r) => {
        order.push('c');
        r();
      });
      (await queued)();
      await late;
      expect(order).toEqual(['b', 'c']);
    });
  });

  describe('acquireUrgent', () => {
    it('is served before every waiter, and is never refused by the bounds or the wait limit', async () => {
      const clock = new ManualClock();
      const admission = new FairAdmission(limits({ maxQueued: 1, maxWaitMs: 100 }), clock);
      const held = await admission.acquire('a');
      const order: string[] = [];
      const waiter = admission.acquire('b').then((release) => {
        order.push('b');
        release();
      });
      const urgent = [1, 2].map((n) =>
        admission.acquireUrgent().then((release) => {
          order.push(`urgent${n}`);
          release();
        }),
      );
      clock.advance(50);
      held();
      await Promise.all([waiter, ...urgent]);
      expect(order).toEqual(['urgent1', 'urgent2', 'b']);
      clock.advance(1000);
      expect(admission.running).toBe(0);
    });
  });

  describe('run', () => {
    it('gives the slot back when the work fails, once, however often release is called', async () => {
      const admission = new FairAdmission(limits({ concurrency: 1 }), new ManualClock());
      await expect(admission.run('a', () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
      expect(admission.running).toBe(0);
      const release = await admission.acquire('a');
      release();
      release();
      expect(admission.running).toBe(0);
      await admission.acquire('b');
      expect(admission.running).toBe(1);
    });
  });
});
