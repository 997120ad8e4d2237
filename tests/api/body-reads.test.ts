import { describe, expect, test } from "bun:test";
import { BodyReads } from "../../src/api/body-reads.ts";

/** "settled" if `promise` has settled by the time already-queued microtasks ran, else "pending". */
async function state(promise: Promise<unknown>): Promise<"settled" | "pending"> {
	const settled = promise.then(
		() => "settled" as const,
		() => "settled" as const,
	);
	await Promise.resolve();
	return Promise.race([settled, Promise.resolve("pending" as const)]);
}

describe("BodyReads", () => {
	test("closing with no read under way resolves at once; later reads may not start", async () => {
		const reads = new BodyReads();
		expect(await state(reads.close())).toBe("settled");
		expect(reads.begin()).toBe(false);
	});

	test("closing waits for every read under way, and only for those", async () => {
		const reads = new BodyReads();
		expect(reads.begin()).toBe(true);
		expect(reads.begin()).toBe(true);
		const closed = reads.close();
		expect(reads.begin()).toBe(false);
		reads.end();
		expect(await state(closed)).toBe("pending");
		reads.end();
		expect(await state(closed)).toBe("settled");
		expect(await state(reads.close())).toBe("settled");
	});

	test("a parked request never gets its body, and parking is announced", async () => {
		const reads = new BodyReads();
		const announced = reads.untilParked();
		await reads.close();
		const parked = reads.park();
		expect(await state(announced)).toBe("settled");
		expect(await state(parked)).toBe("pending");
		expect(await state(reads.untilParked())).toBe("settled");
	});
});
