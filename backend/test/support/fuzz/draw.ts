import fc from 'fast-check';

/**
 * Seeded choices for one request, drawn lazily from a fast-check generator value: the same
 * seed and the same world give the same request. Arbitraries keep fast-check's bias towards
 * edge values; plain choices (`int`, `pick`, `weighted`) are uniform.
 */
export class Draw {
  constructor(private readonly g: fc.GeneratorValue) {}

  value<T>(arbitrary: fc.Arbitrary<T>): T {
    return this.g(() => arbitrary);
  }

  int(min: number, max: number): number {
    return this.g(() => fc.noBias(fc.integer({ min, max })));
  }

  chance(probability: number): boolean {
    return this.int(0, 9999) < probability * 10000;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('nothing to pick from');
    return items[this.int(0, items.length - 1)]!;
  }

  weighted<T>(choices: ReadonlyArray<readonly [number, T]>): T {
    const usable = choices.filter(([weight]) => weight > 0);
    const total = usable.reduce((sum, [weight]) => sum + weight, 0);
    let point = this.int(0, Math.ceil(total * 1000) - 1) / 1000;
    for (const [weight, value] of usable) {
      if (point < weight) return value;
      point -= weight;
    }
    return usable[usable.length - 1]![1];
  }
}
