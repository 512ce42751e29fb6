/*
 * libvirt domain XML <-> gmm guest config: the one place the mapping lives
 * (docs/libvirt-xml.md). Parsing checks what the XML itself says (element
 * names, units, nodesets, the uuid, the domain type); the cross-field rules
 * that need the host (the pool's nodes, the kernel being readable, cells
 * adding up to the guest's memory) stay in config_finish(), which the
 * caller runs on def->cfg before it starts the guest.
 *
 * No global state beyond libxml2's own: safe to call from several threads.
 */
#ifndef GMM_VMM_LIBVIRT_DOMAIN_XML_H
#define GMM_VMM_LIBVIRT_DOMAIN_XML_H

#include <stddef.h>
#include <stdint.h>

#include "vmm/vm.h"

#define DOMAIN_UUID_LEN   37       /* "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" + NUL */
#define DOMAIN_XML_ERR_MAX 512
#define DOMAIN_XML_TYPE "gmm"         /* <domain type=> */

/* A defined domain: the guest config plus what only libvirt keeps. */
struct domain_def {
	char uuid[DOMAIN_UUID_LEN];     /* lowercase, canonical; generated (v4) if the XML had none */
	int uuid_generated;             /* 1: the XML had no <uuid> */
	uint64_t current_memory_kib;    /* <currentMemory>: memory minus the balloon at boot */
	struct vm_config cfg;           /* name, mem, vcpus, kernel, cmdline, console, limits,
					 * hugepages, backend, prefault, balloon, numa */
};

/* A running domain's state for dumpxml; every field optional. */
struct domain_runtime {
	int id;                                 /* libvirt's domain id (the guest's gmm id) */
	uint64_t current_memory_kib;            /* memory minus the balloon now; 0: def's */
	const struct limits_config *limits;     /* live limits (`gmm limits` changes them); NULL: def's */
	int stats_period;                       /* live balloon stats period; -1: def's */
};

/*
 * Parse a <domain type='gmm'> document of len bytes into def (filled from
 * config_guest_defaults() first). Returns 0, or -EINVAL (-ENOMEM, -EIO for
 * /dev/urandom) with one line in err naming the element, like
 * "<devices><disk>: not supported by gmm".
 */
int domain_xml_parse(const char *xml, size_t len, struct domain_def *def, char *err, size_t errlen);

/*
 * The domain as a complete document (no XML declaration, ending in a
 * newline), malloc'd; the caller frees it. rt NULL: inactive (no id=, the
 * defined currentMemory and memtune). NULL with errno ENOMEM on failure.
 * Parsing the result gives def back. Config fields the XML cannot express
 * (thp, limits.low, balloon auto, ...: see docs/libvirt-xml.md) are left out.
 */
char *domain_xml_format(const struct domain_def *def, const struct domain_runtime *rt);

#endif
