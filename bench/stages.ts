import { z } from "zod";
import { getInstrument, type Instrumented } from "./instrument.ts";
import { MODELS } from "./options.ts";
import { type Cell, STAGES, StageTimesSchema } from "./results.ts";

/**
 * --stages: a server started with STAGES=1 times each prediction stage by stage in-process and
 * mounts GET /bench/stages (per model: predictions timed, each stage's p50 and mean in µs) and
 * DELETE /bench/stages (clears them). The bench clears them after each prediction cell's warm-up
 * and reads them after its measured run.
 */

/** The service's route (src/api/stages.ts). */
export const STAGES_PATH = "/bench/stages";

/** The cells whose requests are timed by stage: the four models' POST /predict/:model. */
export const isStagedModel = (model: string): boolean =>
	(MODELS as readonly string[]).includes(model);

/** What the bench reads of a STAGES=1 server: its name (for messages) and its origin. */
type Timed = Instrumented;

const AnswerSchema = z.object({
	unit: z.literal("us"),
	stages: z.array(z.string()),
	models: z.record(
		z.string(),
		z.object({ count: z.number().int().nonnegative(), p50: StageTimesSchema }),
	),
});

/** The request that clears a server's stage timers: the generators send it after the warm-up. */
export const clearStages = (server: Timed): { method: "DELETE"; url: string } => ({
	method: "DELETE",
	url: `${server.server.baseUrl}${STAGES_PATH}`,
});

/**
 * Before anything is measured: the server must answer GET /bench/stages, with our stages. A
 * server from before STAGES=1 answers 404, which stops the bench with one line.
 */
export async function checkStages(server: Timed): Promise<void> {
	await readAnswer(server);
}

/** The stage figures of `model` since the last clear; null when the server timed none of it. */
export async function readStages(
	server: Timed,
	model: string,
): Promise<NonNullable<Cell["stages"]> | null> {
	const entry = (await readAnswer(server)).models[model];
	return entry === undefined ? null : { count: entry.count, p50Us: entry.p50 };
}

async function readAnswer(server: Timed): Promise<z.infer<typeof AnswerSchema>> {
	const { status, text, value } = await getInstrument(server, STAGES_PATH);
	if (status === 404) {
		throw new Error(
			`${server.name} answered 404 to GET ${STAGES_PATH}: it has no stage timers (a server from before STAGES=1); run without --stages`,
		);
	}
	if (status !== 200) {
		throw new Error(`${server.name} answered ${status} to GET ${STAGES_PATH}`);
	}
	const parsed = AnswerSchema.safeParse(value);
	if (!parsed.success || parsed.data.stages.join(",") !== STAGES.join(",")) {
		throw new Error(
			`${server.name}: GET ${STAGES_PATH} answered no summary of the stages ${STAGES.join(",")}: ${text.slice(0, 200)}`,
		);
	}
	return parsed.data;
}
