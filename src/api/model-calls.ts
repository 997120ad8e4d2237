import { instrumentRoutes } from "./bench-routes.ts";
import type { Respond } from "./respond.ts";
import type { ApiRoute } from "./route.ts";

export const MODEL_CALLS_PATH = "/bench/model-calls";

/** The most recent model calls kept per model: a ring, so a long run cannot grow memory. */
const CAPACITY = 1 << 16;

/**
 * The model-call times the service already measures for Server-Timing and its metrics, kept per
 * model for the bench (BENCH_ROUTES=1 with metrics on): the p50 over the very requests a cell
 * measured, on a server without stage timers, so own cost can subtract the model call of those
 * requests rather than one timed on another server.
 */
export class ModelCallTimes {
	private readonly byModel = new Map<string, { seconds: Float64Array; count: number }>();

	readonly add = (model: string, seconds: number): void => {
		let ring = this.byModel.get(model);
		if (!ring) {
			ring = { seconds: new Float64Array(CAPACITY), count: 0 };
			this.byModel.set(model, ring);
		}
		ring.seconds[ring.count % CAPACITY] = seconds;
		ring.count++;
	};

	clear(): void {
		this.byModel.clear();
	}

	/** Per model: calls since the last clear, and the p50 (µs) of the most recent CAPACITY. */
	summary() {
		const models: Record<string, { count: number; p50: number }> = {};
		for (const [model, { seconds, count }] of this.byModel) {
			const kept = seconds.slice(0, Math.min(count, CAPACITY)).sort();
			models[model] = { count, p50: Math.round((kept[kept.length >> 1] ?? 0) * 1e7) / 10 };
		}
		return { unit: "us", models };
	}
}

/** GET /bench/model-calls: every model's call count and p50 (µs); DELETE clears them. */
export const modelCallRoutes = (times: ModelCallTimes, respond: Respond): ApiRoute[] =>
	instrumentRoutes(MODEL_CALLS_PATH, "model-call times of the predictions", times, respond);
