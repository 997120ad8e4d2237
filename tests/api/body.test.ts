import { describe, expect, test } from "bun:test";
import { readJson } from "../../src/api/body.ts";
import { ApiError } from "../../src/api/errors.ts";

const post = (body: BodyInit | null, headers: Record<string, string> = {}) =>
	new Request("http://x/predict/m", { method: "POST", body, headers });

async function failure(request: Request, limit = 1024): Promise<ApiError> {
	try {
		await readJson(request, limit);
	} catch (error) {
		if (error instanceof ApiError) return error;
		throw error;
	}
	throw new Error("readJson accepted the request");
}

function chunked(parts: string[]): ReadableStream<Uint8Array> {
	const encoder = new TextEncoder();
	return new ReadableStream({
		start(controller) {
			for (const part of parts) controller.enqueue(encoder.encode(part));
			controller.close();
		},
	});
}

describe("readJson", () => {
	test("parses a JSON body with or without a utf-8 charset", async () => {
		for (const type of [
			"application/json",
			"application/json; charset=utf-8",
			"Application/JSON;charset=UTF-8",
		]) {
			expect(await readJson(post('{"a":1}', { "content-type": type }), 1024)).toEqual({ a: 1 });
		}
	});

	test("415 without a JSON content type, or with another charset", async () => {
		const types: Record<string, string>[] = [
			{},
			{ "content-type": "text/plain" },
			{ "content-type": "application/json; charset=latin1" },
			{ "content-type": "application/jsonx" },
		];
		for (const headers of types) {
			const error = await failure(post('{"a":1}', headers));
			expect(error.status).toBe(415);
			expect(error.code).toBe("unsupported_media_type");
		}
	});

	test("413 when Content-Length exceeds the limit, before reading", async () => {
		const error = await failure(post("x".repeat(2000), { "content-type": "application/json" }));
		expect(error.status).toBe(413);
	});

	test("413 for a chunked body that grows past the limit", async () => {
		const stream = chunked(Array.from({ length: 10 }, () => "x".repeat(200)));
		const request = new Request("http://x/", {
			method: "POST",
			body: stream,
			headers: { "content-type": "application/json" },
			// @ts-expect-error duplex is required for a streamed body and missing from the DOM types
			duplex: "half",
		});
		expect(request.headers.get("content-length")).toBeNull();
		expect((await failure(request)).status).toBe(413);
	});

	test("a chunked body under the limit is joined and parsed", async () => {
		const request = new Request("http://x/", {
			method: "POST",
			body: chunked(['{"Pcl', 'ass":', "3}"]),
			headers: { "content-type": "application/json" },
			// @ts-expect-error duplex is required for a streamed body and missing from the DOM types
			duplex: "half",
		});
		expect(await readJson(request, 1024)).toEqual({ Pclass: 3 });
	});

	test("400 for empty, malformed and non-UTF-8 bodies", async () => {
		const json = { "content-type": "application/json" };
		for (const body of [
			"",
			"   ",
			'{"a":',
			"{a:1}",
			"NaN",
			new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]),
		]) {
			const error = await failure(post(body, json));
			expect(error.status).toBe(400);
			expect(error.code).toBe("malformed_json");
		}
	});

	test("a body the client cuts off is its 400, not our 500", async () => {
		const broken = new ReadableStream<Uint8Array>({
			start(controller) {
				controller.enqueue(new TextEncoder().encode('{"Pclass":3'));
				controller.error(new Error("connection aborted"));
			},
		});
		const request = new Request("http://x/", {
			method: "POST",
			body: broken,
			headers: { "content-type": "application/json" },
			// @ts-expect-error duplex is required for a streamed body and missing from the DOM types
			duplex: "half",
		});
		const error = await failure(request);
		expect(error.status).toBe(400);
		expect(error.message).toContain("ended before");
	});
});
