import { z } from "@hono/zod-openapi";
import { ModelId, ModelInfo as ModelInfoData } from "../inference/model-info.ts";

/**
 * The single source of the API's shapes: these schemas validate requests, give the code its
 * types and generate the OpenAPI document. The model ids and descriptions are the model layer's
 * (inference/model-info.ts), documented here as they are.
 */

export const MAX_BATCH = 1000;

/** The messages for one field: "required" when absent, else what the field must be. */
function rule(name: string, must: string) {
	const text = `${name} must be ${must}`;
	return {
		type: {
			error: (issue: { input: unknown }) =>
				issue.input === undefined ? `${name} is required` : text,
		},
		check: text,
	};
}

const PCLASS = rule("Pclass", "1, 2 or 3");
const SEX = rule("Sex", '"male" or "female"');
const AGE = rule("Age", "a number in (0, 120], or null");
const FARE = rule("Fare", "a number 0-10000");

const count = (name: string) => {
	const r = rule(name, "a whole number 0-20");
	return z.number(r.type).int(r.check).min(0, r.check).max(20, r.check);
};

// strictObject: a misspelt field such as "age" must be rejected, not silently imputed.
export const Passenger = z
	.strictObject(
		{
			Pclass: z
				.number(PCLASS.type)
				.int(PCLASS.check)
				.min(1, PCLASS.check)
				.max(3, PCLASS.check)
				.openapi({ description: "Ticket class", example: 3 }),
			Sex: z.enum(["male", "female"], SEX.type).openapi({ example: "male" }),
			Age: z.number(AGE.type).gt(0, AGE.check).lte(120, AGE.check).nullable().optional().openapi({
				description: "Years; null or absent means unknown, filled with the training median",
				example: 22,
			}),
			SibSp: count("SibSp").openapi({ description: "Siblings and spouses aboard", example: 1 }),
			Parch: count("Parch").openapi({ description: "Parents and children aboard", example: 0 }),
			Fare: z
				.number(FARE.type)
				.min(0, FARE.check)
				.max(10000, FARE.check)
				.openapi({ description: "Ticket price", example: 7.25 }),
		},
		{ error: "a passenger must be a JSON object of the six fields" },
	)
	.openapi("Passenger");
export type Passenger = z.infer<typeof Passenger>;

/** The JSON Schema of each passenger field, shown in /models as the input's documented ranges. */
export const PASSENGER_FIELDS = (
	z.toJSONSchema(Passenger, { io: "input", unrepresentable: "any" }) as {
		properties: Record<string, unknown>;
	}
).properties;

export const BatchRequest = z
	.strictObject(
		{
			instances: z
				.array(Passenger, { error: "instances must be an array of passengers" })
				.min(1, "instances must hold 1 to 1000 passengers")
				.max(MAX_BATCH, "instances must hold 1 to 1000 passengers"),
		},
		{ error: 'a batch must be a JSON object {"instances": [...]}' },
	)
	.openapi("BatchRequest");
export type BatchRequest = z.infer<typeof BatchRequest>;

const Outcome = {
	prediction: z
		.union([z.literal(0), z.literal(1)])
		.openapi({ description: "1 when probability >= 0.5" }),
	probability: z.number().min(0).max(1).openapi({ description: "Probability of survival" }),
};

export const Prediction = z.object({ model: ModelId, ...Outcome }).openapi("Prediction");
export type Prediction = z.infer<typeof Prediction>;

export const BatchPrediction = z
	.object({ model: ModelId, predictions: z.array(z.object(Outcome)) })
	.openapi("BatchPrediction");
export type BatchPrediction = z.infer<typeof BatchPrediction>;

/** Documents the `model` path parameter; the handler answers an unknown id with 404. */
export const ModelParam = z.object({
	model: ModelId.openapi({ param: { name: "model", in: "path" }, example: "gbdt-onnx" }),
});

export const ModelInfo = ModelInfoData.openapi("ModelInfo");

export const ModelList = z.object({ models: z.array(ModelInfo) }).openapi("ModelList");

export const ErrorBody = z
	.object({
		error: z.object({
			code: z.string().openapi({ example: "invalid_request" }),
			message: z.string(),
			issues: z
				.array(z.object({ path: z.string(), message: z.string() }))
				.optional()
				.openapi({ description: "Every invalid field, for a 400" }),
		}),
	})
	.openapi("Error");
export type ErrorBody = z.infer<typeof ErrorBody>;

export const Health = z.object({ status: z.literal("ok") }).openapi("Health");
export const Readiness = z.object({ status: z.enum(["ready", "starting"]) }).openapi("Readiness");
