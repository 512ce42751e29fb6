/* What gmm tells about a guest: the summary JSON object printed at the end
 * of `gmm run` (one line per guest on stdout) and returned by the control
 * socket's `stat`. */
#ifndef GMM_VMM_REPORT_H
#define GMM_VMM_REPORT_H

#include <jansson.h>

struct vm;

/* guest, accel, state, exit_code, pages_touched, ops_per_sec,
 * verify_failures (when reported), peak_rss_bytes, run_seconds, ...,
 * and "results": every key=value the guest reported. */
json_t *report_guest_json(struct vm *vm);

#endif
