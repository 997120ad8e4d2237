import { describe, expect, test } from "bun:test";
import { inputRow, ONE_PASSENGER } from "../../src/api/predict.ts";
import { createApp } from "../../src/app.ts";
import { createLogger } from "../../src/logger.ts";
import { titanicRegistry } from "../support/registry.ts";

/**
 * Single predictions encode into one lent row and answer in one lent array (predict.ts, LENT):
 * nothing of one prediction may show in the next, whatever comes between.
 */

const registry = titanicRegistry({ warm: true });

/** Passengers that differ in every field, the same on every run. */
function passengers(count: number) {
	return Array.from({ length: count }, (_, i) => ({
		Pclass: 1 + (i % 3),
		Sex: i % 2 === 0 ? "male" : "female",
		...(i % 5 === 0 ? {} : { Age: 1 + ((i * 7) % 70) }),
		SibSp: i % 4,
		Parch: (i * 3) % 5,
		Fare: 5 + ((i * 13.7) % 200),
	}));
}

/** The model's answer for one passenger in arrays of its own, as no lending would give it. */
function alone(id: string, passenger: Record<string, unknown>): number {
	const model = registry().get(id);
	if (!model || model.executor.async) throw new Error(`${id} is not a synchronous model`);
	const row = ONE_PASSENGER.encode(passenger as never, model.encode);
	return model.executor.predict(row, 1)[0] as number;
}

describe("lent rows", () => {
	test("are lent only to synchronous executors", () => {
		for (const model of registry().list()) expect(inputRow(model)).toBeInstanceOf(Float32Array);
		const [model] = registry().list();
		if (!model) throw new Error("no model");
		const asyncModel = { ...model, executor: { ...model.executor, async: true } } as never;
		expect(inputRow(asyncModel)).toBeUndefined();
	});

	test("carry nothing from one prediction to the next, across models, batches and refusals", async () => {
		const app = createApp(registry(), { logger: createLogger("silent"), metrics: true });
		const post = (path: string, body: unknown) =>
			app.request(path, {
				method: "POST",
				headers: { "content-type": "application/json" },
				body: JSON.stringify(body),
			});
		const ids = registry().ids;
		const all = passengers(120);
		for (const [i, passenger] of all.entries()) {
			const id = ids[i % ids.length] as string;
			const response = await post(`/predict/${id}`, passenger);
			expect(response.status).toBe(200);
			const answer = (await response.json()) as { probability: number };
			expect(answer.probability).toBe(alone(id, passenger));
			if (i % 3 === 0) {
				const other = all[(i + 1) % all.length] as Record<string, unknown>;
				const batch = await post(`/predict/${id}/batch`, { instances: [other] });
				const [only] = ((await batch.json()) as { predictions: { probability: number }[] })
					.predictions;
				expect(only?.probability).toBe(alone(id, other));
			}
			if (i % 4 === 0) {
				const refused = await post(`/predict/${id}`, { ...passenger, Pclass: 9 });
				expect(refused.status).toBe(400);
			}
		}
	});
});
