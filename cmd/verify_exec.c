/*
 * The hidden command `flotilla __verify-exec RECEIPT TIMEOUT_MS CWD -- ARGV...`:
 * the wrapper that fl_verify_run starts around each verify command, so the
 * command runs exactly once and leaves a receipt even if flotilla is killed.
 * Not listed in help; not meant to be run by hand.
 */
#include "cmd/cmd.h"
#include "reconcile/rollout/verify.h"
#include "core/banned.h"

/* Declared here until cmd/cmd.h declares it beside the other commands. */
int cmd_verify_exec(int argc, char **argv);

int cmd_verify_exec(int argc, char **argv)
{
	return fl_verify_exec_main(argc, argv);
}
