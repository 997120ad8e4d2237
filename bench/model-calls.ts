import { z } from "zod";
import { getInstrument, type Instrumented } from "./instrument.ts";
import type { Cell } from "./results.ts";

/**
 * --stages, our runtimes' untimed servers: each keeps the model-call times its metrics take
 * (src/api/model-calls.ts, BENCH_ROUTES=1 with METRICS=on) and serves their p50 per model. The
 * generator clears them after a model cell's warm-up and the bench reads them after its measured
 * run: the model call of the very requests measured, for own cost, instead of the Server-Timing
 * side sample (a few requests sent afterwards, on colder caches) or the timed twin's.
 */

/** The service's route (src/api/model-calls.ts). */
export const MODEL_CALLS_PATH = "/bench/model-calls";

const AnswerSchema = z.object({
	unit: z.literal("us"),
	models: z.record(
		z.string(),
		z.object({ count: z.number().int().nonnegative(), p50: z.number().nonnegative() }),
	),
});

/** The request that clears a server's model-call times: the generators send it after the warm-up. */
export const clearModelCalls = (server: Instrumented): { method: "DELETE"; url: string } => ({
	method: "DELETE",
	url: `${server.server.baseUrl}${MODEL_CALLS_PATH}`,
});

/** The model's calls since the last clear as a cell's infer figure; null when it has none. */
export async function readModelCalls(
	server: Instrumented,
	model: string,
): Promise<Cell["infer"] | null> {
	const { status, text, value } = await getInstrument(server, MODEL_CALLS_PATH);
	if (status !== 200) {
		throw new Error(`${server.name} answered ${status} to GET ${MODEL_CALLS_PATH}`);
	}
	const parsed = AnswerSchema.safeParse(value);
	if (!parsed.success) {
		throw new Error(`${server.name}: GET ${MODEL_CALLS_PATH} answered ${text.slice(0, 200)}`);
	}
	const entry = parsed.data.models[model];
	if (entry === undefined || entry.count === 0) return null;
	return { medianMs: entry.p50 / 1000, count: entry.count, source: "server" };
}
