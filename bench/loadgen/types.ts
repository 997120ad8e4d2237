/** One measured request. Times are microseconds; `startUs` is relative to the run's start. */
export interface Sample {
	startUs: number;
	durationUs: number;
	status: number;
	/** The `infer;dur=` value of the response's Server-Timing header in ms, when it was read. */
	inferMs: number | null;
}

export interface GeneratorInfo {
	name: string;
	version: string;
}

export interface LoadRequest {
	url: string;
	method: "GET" | "POST";
	body?: string;
	contentType?: string;
	requests: number;
	concurrency: number;
	/**
	 * Unmeasured requests first. The built-in generator sends them on the connections it then
	 * measures on; oha cannot, so it makes them a separate run.
	 */
	warmup?: number;
	/** Restricts the generator to these CPU cores (via taskset) when set. */
	cpuList?: string;
	/**
	 * Duration mode: send requests for this long instead of `requests` of them; requests in flight
	 * at the deadline complete and count. (oha: `-z`.)
	 */
	durationMs?: number;
	/**
	 * Rotate over these targets request by request (same server as `url`). Only generators whose
	 * `rotates` is true honour it; the others send `url` alone.
	 */
	targets?: { method: "GET" | "POST"; url: string; body: string }[];
}

/** Totals a generator reports itself when it gives no per-request rows (oha's JSON output). */
export interface LoadSummary {
	responses: number;
	statusCodes: Record<string, number>;
	p50Ms: number | null;
	p99Ms: number | null;
	rps: number;
}

export interface LoadResult {
	samples: Sample[];
	/** Requests that never got a response (connection errors, timeouts). */
	errors: number;
	/** The run's elapsed time as the generator saw it, microseconds. */
	wallUs: number;
	generator: GeneratorInfo;
	/** Whether `inferMs` was recorded for the samples. */
	readsServerTiming: boolean;
	/** Set when `samples` is empty because the generator only reported totals. */
	summary?: LoadSummary;
}

export interface LoadGenerator {
	readonly info: GeneratorInfo;
	/** Whether `LoadRequest.targets` is honoured (request-by-request rotation). */
	readonly rotates: boolean;
	run(request: LoadRequest): Promise<LoadResult>;
}

/** Parses `infer;dur=0.012` out of a Server-Timing header value. */
export function parseInferMs(header: string | null | undefined): number | null {
	if (!header) return null;
	for (const metric of header.split(",")) {
		const [name, ...params] = metric.trim().split(";");
		if (name?.trim() !== "infer") continue;
		for (const param of params) {
			const [key, value] = param.trim().split("=");
			if (key === "dur" && value !== undefined) {
				const ms = Number(value.replace(/^"|"$/g, ""));
				return Number.isFinite(ms) ? ms : null;
			}
		}
	}
	return null;
}
