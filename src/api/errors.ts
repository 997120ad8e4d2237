import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { z } from "zod";
import type { ErrorBody } from "./schemas.ts";

export type ErrorCode =
	| "malformed_json"
	| "invalid_request"
	| "unknown_model"
	| "not_found"
	| "method_not_allowed"
	| "payload_too_large"
	| "unsupported_media_type"
	| "unauthorized"
	| "not_ready"
	| "internal_error";

export type Issue = { path: string; message: string };

/** A client-facing failure: the app's error handler turns it into the JSON envelope. */
export class ApiError extends Error {
	readonly status: ContentfulStatusCode;
	readonly code: ErrorCode;
	readonly issues: Issue[] | undefined;
	readonly headers: Record<string, string> | undefined;

	constructor(
		status: ContentfulStatusCode,
		code: ErrorCode,
		message: string,
		extra: { issues?: Issue[]; headers?: Record<string, string> } = {},
	) {
		super(message);
		this.status = status;
		this.code = code;
		this.issues = extra.issues;
		this.headers = extra.headers;
	}

	toBody(): ErrorBody {
		const { code, message, issues } = this;
		return { error: issues ? { code, message, issues } : { code, message } };
	}

	/** The Open Inference Protocol's error shape: one string, naming every invalid field. */
	toProtocolBody(): { error: string } {
		const { message, issues } = this;
		if (!issues) return { error: message };
		// "inputs must be an array" names its field already; "inputs.0.name: ..." needs the path.
		const named = (i: Issue) => !i.path || i.message.startsWith(`${i.path.split(".").at(-1)} `);
		return {
			error: issues.map((i) => (named(i) ? i.message : `${i.path}: ${i.message}`)).join("; "),
		};
	}
}

/** Every failed field of a zod error, as `path: message` pairs ("instances.2.Age"). */
export function issuesOf(error: z.ZodError): Issue[] {
	return error.issues.flatMap((issue) => {
		const path = issue.path.map(String);
		if (issue.code === "unrecognized_keys") {
			return issue.keys.map((key) => ({
				path: [...path, key].join("."),
				message: "unknown field",
			}));
		}
		return [{ path: path.join("."), message: issue.message }];
	});
}
