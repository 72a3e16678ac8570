/* responder_proc.h: the responder process a window in http01_mode = responder runs. */
#pragma once
#include <time.h>
#include "conf.h"

/* Makes the responder match the window: serving until `until`, or (0) not running. A moved
 * deadline starts a new responder before the old one is told to stop, so the port never goes
 * unanswered. The pid lives in STATE_DIR/responder.pid; a pid is signalled only after its
 * command line shows it is this state directory's responder. */
int responder_sync(const struct conf *c, time_t until, struct err *e);
/* The recorded responder when it still runs: its pid, port and deadline; -ENOENT otherwise. */
int responder_running(const struct conf *c, int *ret_pid, unsigned *ret_port, time_t *ret_until);
