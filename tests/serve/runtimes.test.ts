import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { RUNTIMES, type RunningServer, type Runtime, startAllRuntimes } from "../support/server.ts";

/**
 * The same requests to the real server on Node, Bun and Deno must get identical answers: the
 * shared src/ is the product, the entry points only bind it to a socket.
 */

const passenger = { Pclass: 3, Sex: "male", Age: 22, SibSp: 1, Parch: 0, Fare: 7.25 };
const JSON_TYPE = { "content-type": "application/json" };

interface Probe {
	name: string;
	path: string;
	method?: string;
	headers?: Record<string, string>;
	body?: string;
}

const post = (name: string, path: string, body: unknown, headers = JSON_TYPE): Probe => ({
	name,
	path,
	method: "POST",
	headers,
	body: typeof body === "string" ? body : JSON.stringify(body),
});

const PROBES: Probe[] = [
	{ name: "health", path: "/health" },
	{ name: "ready", path: "/ready" },
	{ name: "models", path: "/models" },
	{ name: "one model", path: "/models/gbdt-onnx" },
	...["mlp-onnx", "mlp-ts", "gbdt-onnx", "gbdt-ts"].flatMap((model) => [
		post(`${model} reference`, `/predict/${model}`, passenger),
		post(`${model} missing age`, `/predict/${model}`, { ...passenger, Age: null }),
		post(`${model} batch`, `/predict/${model}/batch`, {
			instances: [
				passenger,
				{ Pclass: 1, Sex: "female", Age: 38, SibSp: 1, Parch: 0, Fare: 71.28 },
			],
		}),
	]),
	post("invalid fields", "/predict/gbdt-ts", {
		Pclass: 0,
		Sex: "M",
		Age: 200,
		SibSp: -1,
		Parch: 1.5,
		Fare: "1",
	}),
	post("unknown field", "/predict/mlp-ts", { ...passenger, age: 22 }),
	post("malformed", "/predict/mlp-onnx", '{"Pclass":'),
	post("empty", "/predict/mlp-onnx", ""),
	post("array", "/predict/mlp-onnx", "[]"),
	post("wrong type", "/predict/mlp-onnx", passenger, { "content-type": "text/plain" }),
	post("too large", "/predict/mlp-onnx", { ...passenger, pad: "x".repeat(70_000) }),
	post("unknown model", "/predict/resnet", passenger),
	post("empty batch", "/predict/gbdt-onnx/batch", { instances: [] }),
	{ name: "wrong method", path: "/predict/gbdt-onnx" },
	{ name: "unknown route", path: "/nope" },
];

interface Answer {
	status: number;
	body: unknown;
}

async function ask(base: string, probe: Probe): Promise<Answer> {
	const response = await fetch(`${base}${probe.path}`, {
		method: probe.method ?? "GET",
		headers: probe.headers,
		body: probe.body,
	});
	return { status: response.status, body: await response.json() };
}

/** Deep equality with numbers compared within 1e-6. */
function sameAnswer(a: unknown, b: unknown): boolean {
	if (typeof a === "number" && typeof b === "number") return Math.abs(a - b) <= 1e-6;
	if (Array.isArray(a) && Array.isArray(b)) {
		return a.length === b.length && a.every((x, i) => sameAnswer(x, b[i]));
	}
	if (a && b && typeof a === "object" && typeof b === "object") {
		const ka = Object.keys(a).sort();
		const kb = Object.keys(b).sort();
		return (
			ka.join() === kb.join() &&
			ka.every((k) =>
				sameAnswer((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]),
			)
		);
	}
	return a === b;
}

let servers = new Map<Runtime, RunningServer>();

beforeAll(async () => {
	servers = await startAllRuntimes();
}, 60_000);

afterAll(async () => {
	await Promise.all([...servers.values()].map((s) => s.stop()));
});

describe("node, bun and deno answer alike", () => {
	for (const probe of PROBES) {
		test(probe.name, async () => {
			const answers = await Promise.all(
				RUNTIMES.map(
					async (runtime) =>
						[runtime, await ask((servers.get(runtime) as RunningServer).url, probe)] as const,
				),
			);
			const [, reference] = answers[0] as readonly [Runtime, Answer];
			expect(reference.status).toBeGreaterThanOrEqual(200);
			for (const [runtime, answer] of answers.slice(1)) {
				expect({ runtime, status: answer.status }).toEqual({ runtime, status: reference.status });
				if (!sameAnswer(answer.body, reference.body)) {
					expect({ runtime, body: answer.body }).toEqual({ runtime, body: reference.body });
				}
			}
		});
	}

	test("the expected statuses", async () => {
		const node = (servers.get("node") as RunningServer).url;
		const statuses = await Promise.all(PROBES.map(async (p) => (await ask(node, p)).status));
		const byName = Object.fromEntries(PROBES.map((p, i) => [p.name, statuses[i]]));
		expect(byName).toMatchObject({
			health: 200,
			ready: 200,
			"gbdt-onnx reference": 200,
			"invalid fields": 400,
			"unknown field": 400,
			malformed: 400,
			empty: 400,
			array: 400,
			"wrong type": 415,
			"too large": 413,
			"unknown model": 404,
			"empty batch": 400,
			"wrong method": 405,
			"unknown route": 404,
		});
	});

	test("SIGTERM drains and exits 0 on every runtime", async () => {
		for (const runtime of RUNTIMES) {
			const server = servers.get(runtime) as RunningServer;
			expect({ runtime, code: await server.stop() }).toEqual({ runtime, code: 0 });
		}
	}, 20_000);
});
