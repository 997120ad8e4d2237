/**
 * Errors as the one line a startup failure or a warning prints: shared by the model loaders and
 * the entry points, which must never print a stack trace.
 */

/** The first line of an error's message (or of whatever was thrown). */
export const firstLine = (error: unknown): string =>
	String((error as Error)?.message ?? error).split("\n")[0] ?? "";

/** Errors a runtime's permission system throws, not the file system: Deno's, outside --allow-read. */
const PERMISSION_ERRORS = new Set(["NotCapable", "PermissionDenied"]);

/** Whether a read failed because the runtime was not allowed to read, not because of the file. */
export const refusedByRuntime = (error: unknown): boolean =>
	PERMISSION_ERRORS.has((error as Error)?.name);

/** Why a file could not be read: ENOENT, EACCES, a refused permission, or the first line. */
export function readFailure(error: unknown): string {
	const { code } = error as NodeJS.ErrnoException;
	if (code) return code;
	if (refusedByRuntime(error)) {
		return "the runtime is not allowed to read it; under Deno, MODELS_DIR must be inside the project";
	}
	return firstLine(error);
}
