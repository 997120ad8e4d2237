/**
 * Seeded randomness for the trainers. Math.random is never used: two runs of the trainer must
 * produce the same bytes.
 */

export type Random = () => number;

/** mulberry32: a tiny 32-bit generator, good enough for shuffles and weight init. */
export function mulberry32(seed: number): Random {
	let state = seed >>> 0;
	return () => {
		state = (state + 0x6d2b79f5) >>> 0;
		let t = state;
		t = Math.imul(t ^ (t >>> 15), t | 1);
		t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
		return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
	};
}

/** Fisher-Yates, in place. */
export function shuffleInPlace<T>(items: T[], random: Random): T[] {
	for (let i = items.length - 1; i > 0; i--) {
		const j = Math.floor(random() * (i + 1));
		const swap = items[i] as T;
		items[i] = items[j] as T;
		items[j] = swap;
	}
	return items;
}
