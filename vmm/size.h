/* Sizes as users write them: "512M", "2G", "64KiB", "4096" (bytes). */
#ifndef GMM_VMM_SIZE_H
#define GMM_VMM_SIZE_H

#include <stdint.h>

/* Returns 0, or -EINVAL for anything but digits with an optional K/M/G/T
 * suffix (KiB.., also accepted), -ERANGE on overflow. */
int size_parse(const char *s, uint64_t *bytes);
/* "512M"-style text for messages; buf of 32 bytes. */
const char *size_format(uint64_t bytes, char *buf);

#endif
