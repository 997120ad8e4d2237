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
		return { error: issues ? issues.map(protocolIssue).join("; ") : message };
	}
}

/**
 * One issue as a sentence: "inputs.0.shape must be an array" where the message starts with the
 * field's own name, "inputs.0.data: ..." otherwise.
 */
function protocolIssue({ path, message }: Issue): string {
	if (!path) return message;
	const segments = path.split(".");
	const field = segments.pop() as string;
	if (!message.startsWith(`${field} `)) return `${path}: ${message}`;
	return segments.length > 0 ? `${segments.join(".")}.${message}` : message;
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
