import { registerProcessMetrics } from "./process.ts";
import {
	type Counter,
	type CounterSeries,
	type HistogramSeries,
	MetricsRegistry,
} from "./registry.ts";

/**
 * The service's metrics, under the names dashboards rely on. Every series a prediction records
 * into is created here at startup, per model, so the request path only adds to numbers.
 */

/** Seconds. Requests take 30-150 us here, so the buckets start at 10 us and go up to 10 s. */
export const LATENCY_BUCKETS = [
	0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
	0.25, 0.5, 1, 2.5, 5, 10,
] as const;

/** Instances per model call: 1 to 1024 in powers of two. */
export const BATCH_SIZE_BUCKETS = Array.from({ length: 11 }, (_, i) => 2 ** i);

/** What a prediction request records for its model; the API layer calls it, models never do. */
export class ModelMetrics {
	readonly #success: CounterSeries;
	readonly #failure: CounterSeries;
	readonly #request: HistogramSeries;
	readonly #compute: HistogramSeries;
	readonly #batch: HistogramSeries;

	constructor(series: {
		success: CounterSeries;
		failure: CounterSeries;
		request: HistogramSeries;
		compute: HistogramSeries;
		batch: HistogramSeries;
	}) {
		this.#success = series.success;
		this.#failure = series.failure;
		this.#request = series.request;
		this.#compute = series.compute;
		this.#batch = series.batch;
	}

	/** A prediction answered: the request's time, the model call's, and its instances. */
	succeeded(requestSeconds: number, computeSeconds: number, instances: number): void {
		this.#success.inc();
		this.#request.observe(requestSeconds);
		this.#compute.observe(computeSeconds);
		this.#batch.observe(instances);
	}

	/** A request for this model answered with an error. */
	failed(): void {
		this.#failure.inc();
	}
}

/** Hears each successful prediction's model-call time (seconds) for a model. */
export type ComputeObserver = (model: string, computeSeconds: number) => void;

/**
 * The same series, telling an observer each model call's time as well: for the bench's
 * instruments only (BENCH_ROUTES=1), so production's ModelMetrics carries no such call.
 */
class ObservedModelMetrics extends ModelMetrics {
	readonly #model: string;
	readonly #observe: ComputeObserver;

	constructor(
		series: ConstructorParameters<typeof ModelMetrics>[0],
		model: string,
		observe: ComputeObserver,
	) {
		super(series);
		this.#model = model;
		this.#observe = observe;
	}

	override succeeded(requestSeconds: number, computeSeconds: number, instances: number): void {
		super.succeeded(requestSeconds, computeSeconds, instances);
		this.#observe(this.#model, computeSeconds);
	}
}

/** Methods outside this set share the label "other", so made-up methods add no series. */
export const HTTP_METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"] as const;
export const OTHER_METHOD = "other";
/** The route label of a request no route matched: a scanner's paths add no series. */
export const UNMATCHED_ROUTE = "unmatched";

const METHOD_SLOTS = HTTP_METHODS.length + 1;
/** The Fetch standard's Response only takes statuses 200-599; 100-599 leaves room for 1xx. */
const LOWEST_STATUS = 100;
const STATUS_SLOTS = 500;

function methodSlot(method: string): number {
	switch (method) {
		case "GET":
			return 0;
		case "HEAD":
			return 1;
		case "POST":
			return 2;
		case "PUT":
			return 3;
		case "DELETE":
			return 4;
		case "PATCH":
			return 5;
		case "OPTIONS":
			return 6;
		default:
			return 7;
	}
}

/**
 * http_requests_total by route pattern, method and status. A request's route is resolved to an
 * index once; the series of a (route, method, status) is created the first time it occurs and
 * found by numbers afterwards.
 */
export class HttpMetrics {
	readonly #counter: Counter;
	/** Route patterns by index; index 0 is the unmatched route's. */
	readonly #routes: string[] = [UNMATCHED_ROUTE];
	readonly #routeIndex = new Map<string, number>();
	/** Per route and method slot, the series by status - LOWEST_STATUS; filled as they occur. */
	readonly #series: (CounterSeries | undefined)[][] = [];

	constructor(counter: Counter) {
		this.#counter = counter;
	}

	/** Declares a route pattern requests are counted under, once; returns its index. */
	addRoute(pattern: string): number {
		const known = this.#routeIndex.get(pattern);
		if (known !== undefined) return known;
		this.#routeIndex.set(pattern, this.#routes.length);
		this.#routes.push(pattern);
		return this.#routes.length - 1;
	}

	/** Declares the route patterns requests are counted under; call before serving. */
	addRoutes(patterns: Iterable<string>): void {
		for (const pattern of patterns) this.addRoute(pattern);
	}

	/** The index of a declared route pattern; any other string, or none, is the unmatched route's. */
	route(pattern: string | undefined): number {
		return this.#routeIndex.get(pattern ?? "") ?? 0;
	}

	count(route: number, method: string, status: number): void {
		const slot = route * METHOD_SLOTS + methodSlot(method);
		const byStatus = this.#series[slot] ?? this.#newSlot(slot);
		const index = status - LOWEST_STATUS;
		if (index < 0 || index >= STATUS_SLOTS) return; // no Response can carry such a status
		const series = byStatus[index] ?? this.#newSeries(byStatus, slot, status);
		series.inc();
	}

	#newSlot(slot: number): (CounterSeries | undefined)[] {
		const byStatus = new Array<CounterSeries | undefined>(STATUS_SLOTS).fill(undefined);
		this.#series[slot] = byStatus;
		return byStatus;
	}

	#newSeries(byStatus: (CounterSeries | undefined)[], slot: number, status: number): CounterSeries {
		const route = this.#routes[Math.floor(slot / METHOD_SLOTS)] ?? UNMATCHED_ROUTE;
		const method = HTTP_METHODS[slot % METHOD_SLOTS] ?? OTHER_METHOD;
		const series = this.#counter.series(method, route, String(status));
		byStatus[status - LOWEST_STATUS] = series;
		return series;
	}
}

export interface ServiceMetrics {
	/** The preallocated series of a model given at startup. */
	model(id: string): ModelMetrics;
	readonly http: HttpMetrics;
	/** The exposition text, process metrics read now. */
	expose(): string;
}

/**
 * Every metric of the service: one set of inference series per model id (any string: the
 * Titanic variants now, other models later), http_requests_total, and the process metrics.
 */
export function createServiceMetrics(
	modelIds: readonly string[],
	observeCompute?: ComputeObserver,
): ServiceMetrics {
	const registry = new MetricsRegistry();
	const requests = registry.counter(
		"inference_requests_total",
		"Prediction requests per model; failure: answered with an error after the model was found.",
		["model", "outcome"],
	);
	const requestDuration = registry.histogram(
		"inference_request_duration_seconds",
		"Successful prediction requests: time from the handler's entry (body unread) to the model's answer.",
		["model"],
		LATENCY_BUCKETS,
	);
	const computeDuration = registry.histogram(
		"inference_compute_duration_seconds",
		"Successful prediction requests: time in the model call alone (as Server-Timing infer).",
		["model"],
		LATENCY_BUCKETS,
	);
	const batchSize = registry.histogram(
		"inference_batch_size",
		"Instances per model call.",
		["model"],
		BATCH_SIZE_BUCKETS,
	);
	const byModel = new Map<string, ModelMetrics>();
	for (const id of modelIds) {
		const success = requests.series(id, "success");
		const failure = requests.series(id, "failure");
		const request = requestDuration.series(id);
		const compute = computeDuration.series(id);
		const batch = batchSize.series(id);
		const series = { success, failure, request, compute, batch };
		byModel.set(
			id,
			observeCompute
				? new ObservedModelMetrics(series, id, observeCompute)
				: new ModelMetrics(series),
		);
	}
	const http = new HttpMetrics(
		registry.counter("http_requests_total", "HTTP requests by route pattern, method and status.", [
			"method",
			"route",
			"status",
		]),
	);
	registerProcessMetrics(registry);
	return {
		model(id) {
			const metrics = byModel.get(id);
			if (!metrics) throw new Error(`no metrics for model ${JSON.stringify(id)}`);
			return metrics;
		},
		http,
		expose: () => registry.expose(),
	};
}
