/*
 * Domain procedures: lookup, list, define/undefine, start/create,
 * shutdown/destroy, dominfo's questions, domstate, dumpxml, autostart.
 * Units: libvirt counts memory in KiB, domains.h in bytes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/domains.h"
#include "vmm/libvirt/remote.h"

/* virConnectListAllDomainsFlags */
enum {
	LIST_ACTIVE = 1 << 0, LIST_INACTIVE = 1 << 1,
	LIST_PERSISTENT = 1 << 2, LIST_TRANSIENT = 1 << 3,
	LIST_RUNNING = 1 << 4, LIST_PAUSED = 1 << 5, LIST_SHUTOFF = 1 << 6, LIST_OTHER = 1 << 7,
	LIST_MANAGEDSAVE = 1 << 8, LIST_NO_MANAGEDSAVE = 1 << 9,
	LIST_AUTOSTART = 1 << 10, LIST_NO_AUTOSTART = 1 << 11,
	LIST_HAS_SNAPSHOT = 1 << 12, LIST_NO_SNAPSHOT = 1 << 13,
	LIST_HAS_CHECKPOINT = 1 << 14, LIST_NO_CHECKPOINT = 1 << 15,
	LIST_ALL_FLAGS = (1 << 16) - 1,
};

/* virDomainXMLFlags */
enum { XML_SECURE = 1, XML_INACTIVE = 2, XML_UPDATE_CPU = 4, XML_MIGRATABLE = 8 };

static struct remote_conn *conn(struct rpc_call_ctl *cc)
{
	return cc->priv;
}

static struct domain_info *list_all(struct rpc_call_ctl *cc, int *n)
{
	struct domain_info *all = calloc(DOMAINS_MAX, sizeof(*all));
	int total;

	*n = 0;
	if (!all) {
		remote_err(cc, VIR_ERR_INTERNAL_ERROR, "out of memory");
		return NULL;
	}
	*n = domains_list(conn(cc)->d, all, DOMAINS_MAX, &total);
	if (*n < 0)
		*n = 0;
	return all;
}

/* One filter group of libvirt's: no bit of the pair set matches all. */
static bool group_ok(uint32_t flags, uint32_t yes, uint32_t no, bool is)
{
	if (!(flags & (yes | no)))
		return true;
	return (is && (flags & yes)) || (!is && (flags & no));
}

static bool list_match(const struct domain_info *i, uint32_t f)
{
	bool active = i->state == DOMAIN_RUNNING;
	bool other = !active && i->state != DOMAIN_SHUTOFF;

	return group_ok(f, LIST_ACTIVE, LIST_INACTIVE, active) &&
	       group_ok(f, LIST_PERSISTENT, LIST_TRANSIENT, i->persistent) &&
	       (!(f & (LIST_RUNNING | LIST_PAUSED | LIST_SHUTOFF | LIST_OTHER)) ||
		((f & LIST_RUNNING) && active) || ((f & LIST_SHUTOFF) && i->state == DOMAIN_SHUTOFF) ||
		((f & LIST_OTHER) && other)) &&
	       group_ok(f, LIST_MANAGEDSAVE, LIST_NO_MANAGEDSAVE, false) &&
	       group_ok(f, LIST_AUTOSTART, LIST_NO_AUTOSTART, i->autostart) &&
	       group_ok(f, LIST_HAS_SNAPSHOT, LIST_NO_SNAPSHOT, false) &&
	       group_ok(f, LIST_HAS_CHECKPOINT, LIST_NO_CHECKPOINT, false);
}

REMOTE_HANDLER(connect_list_all_domains)
{
	struct domain_info *all;
	int32_t need;
	uint32_t flags, nr = 0;
	int n;

	xdr_get_i32(cc->args, &need);
	xdr_get_u32(cc->args, &flags);
	if (xdr_dec_err(cc->args))
		return -EBADMSG;
	if (remote_check_flags(cc, flags, LIST_ALL_FLAGS))
		return -EINVAL;
	all = list_all(cc, &n);
	if (!all)
		return -ENOMEM;
	for (int i = 0; i < n; i++)
		if (list_match(&all[i], flags))
			all[nr++] = all[i];
	xdr_put_count(cc->ret, need ? nr : 0, REMOTE_DOMAIN_LIST_MAX);
	for (uint32_t i = 0; need && i < nr; i++)
		remote_put_dom(cc->ret, &all[i]);
	xdr_put_u32(cc->ret, nr);
	free(all);
	return xdr_enc_err(cc->ret);
}

static int count_state(struct rpc_call_ctl *cc, bool active)
{
	struct domain_info *all;
	int n, nr = 0;

	all = list_all(cc, &n);
	if (!all)
		return -ENOMEM;
	for (int i = 0; i < n; i++)
		nr += (all[i].state == DOMAIN_RUNNING) == active;
	free(all);
	return xdr_put_i32(cc->ret, nr);
}

REMOTE_HANDLER(connect_num_of_domains)
{
	return count_state(cc, true);
}

REMOTE_HANDLER(connect_num_of_defined_domains)
{
	return count_state(cc, false);
}

/* The old API: ids of running domains, names of shut-off ones. */
static int list_old(struct rpc_call_ctl *cc, bool active)
{
	struct domain_info *all;
	int32_t max;
	int n, nr = 0;

	if (xdr_get_i32(cc->args, &max))
		return -EBADMSG;
	if (max < 0 || max > REMOTE_DOMAIN_LIST_MAX)
		return remote_err(cc, VIR_ERR_INVALID_ARG, "too many domains requested (%d > %d)", max,
				  REMOTE_DOMAIN_LIST_MAX);
	all = list_all(cc, &n);
	if (!all)
		return -ENOMEM;
	for (int i = 0; i < n; i++)
		if ((all[i].state == DOMAIN_RUNNING) == active && nr < max)
			all[nr++] = all[i];
	xdr_put_count(cc->ret, (uint32_t)nr, REMOTE_DOMAIN_LIST_MAX);
	for (int i = 0; i < nr; i++) {
		if (active)
			xdr_put_i32(cc->ret, all[i].id);
		else
			xdr_put_string(cc->ret, all[i].name, REMOTE_STRING_MAX);
	}
	free(all);
	return xdr_enc_err(cc->ret);
}

REMOTE_HANDLER(connect_list_domains)
{
	return list_old(cc, true);
}

REMOTE_HANDLER(connect_list_defined_domains)
{
	return list_old(cc, false);
}

REMOTE_HANDLER(domain_lookup_by_id)
{
	struct domain_info info;
	int32_t id;

	if (xdr_get_i32(cc->args, &id))
		return -EBADMSG;
	if (domains_lookup_id(conn(cc)->d, id, &info))
		return remote_err(cc, VIR_ERR_NO_DOMAIN, "no domain with matching id %d", id);
	return remote_put_dom(cc->ret, &info);
}

REMOTE_HANDLER(domain_lookup_by_name)
{
	struct domain_info info;
	char *name = NULL;
	int ret;

	if (xdr_get_string(cc->args, &name, REMOTE_STRING_MAX))
		return -EBADMSG;
	if (domains_lookup_name(conn(cc)->d, name, &info))
		ret = remote_err(cc, VIR_ERR_NO_DOMAIN, "no domain with matching name '%s'", name);
	else
		ret = remote_put_dom(cc->ret, &info);
	free(name);
	return ret;
}

REMOTE_HANDLER(domain_lookup_by_uuid)
{
	struct domain_info info;
	uint8_t uuid[16];
	char text[DOMAIN_UUID_LEN];

	if (xdr_get_opaque_fixed(cc->args, uuid, sizeof(uuid)))
		return -EBADMSG;
	if (domains_lookup_uuid(conn(cc)->d, uuid, &info)) {
		remote_uuid_text(uuid, text);
		return remote_err(cc, VIR_ERR_NO_DOMAIN, "no domain with matching uuid '%s'", text);
	}
	return remote_put_dom(cc->ret, &info);
}

/* define, define_flags and create_xml share: xml [, flags] -> dom */
static int define_common(struct rpc_call_ctl *cc, bool has_flags, bool create)
{
	struct domain_info info;
	char err[DOMAINS_ERR_MAX] = "";
	char *xml = NULL;
	uint32_t flags = 0;
	int ret;

	xdr_get_string(cc->args, &xml, REMOTE_STRING_MAX);
	if (has_flags)
		xdr_get_u32(cc->args, &flags);
	if (xdr_dec_err(cc->args)) {
		free(xml);
		return -EBADMSG;
	}
	/* define: VIR_DOMAIN_DEFINE_VALIDATE (1) is what gmm always does;
	 * create: no flag (paused start, autodestroy, ...) is served */
	if (remote_check_flags(cc, flags, create ? 0 : 1)) {
		free(xml);
		return -EINVAL;
	}
	if (create)
		ret = domains_create_xml(conn(cc)->d, xml, strlen(xml), &info, err, sizeof(err));
	else
		ret = domains_define_xml(conn(cc)->d, xml, strlen(xml), &info, err, sizeof(err));
	free(xml);
	if (ret)
		return remote_fail(cc, ret, err);
	return remote_put_dom(cc->ret, &info);
}

REMOTE_HANDLER(domain_define_xml)
{
	return define_common(cc, false, false);
}

REMOTE_HANDLER(domain_define_xml_flags)
{
	return define_common(cc, true, false);
}

REMOTE_HANDLER(domain_create_xml)
{
	return define_common(cc, true, true);
}

typedef int (*dom_op_fn)(struct domains *d, const char *name, char *err, size_t errlen);

/* dom [, flags] -> nothing, through one domains.h call */
static int dom_op(struct rpc_call_ctl *cc, bool has_flags, uint32_t allowed, dom_op_fn fn)
{
	struct domain_info info;
	char err[DOMAINS_ERR_MAX] = "";
	uint32_t flags = 0;
	int ret;

	ret = remote_dom_args(cc, &info, has_flags ? &flags : NULL);
	if (ret)
		return ret;
	if (remote_check_flags(cc, flags, allowed))
		return -EINVAL;
	ret = fn(conn(cc)->d, info.name, err, sizeof(err));
	return ret ? remote_fail(cc, ret, err) : 0;
}

/* virDomainUndefineFlagsValues: managed save, snapshot and checkpoint
 * metadata and nvram do not exist in gmm, so removing them is a no-op */
#define UNDEFINE_NOOP_FLAGS (1 | 2 | 4 | 16 | 32)

REMOTE_HANDLER(domain_undefine)
{
	return dom_op(cc, false, 0, domains_undefine);
}

REMOTE_HANDLER(domain_undefine_flags)
{
	return dom_op(cc, true, UNDEFINE_NOOP_FLAGS, domains_undefine);
}

REMOTE_HANDLER(domain_create)
{
	return dom_op(cc, false, 0, domains_start);
}

REMOTE_HANDLER(domain_create_with_flags)
{
	struct domain_info info;
	char err[DOMAINS_ERR_MAX] = "";
	uint32_t flags;
	int ret;

	ret = remote_dom_args(cc, &info, &flags);
	if (ret)
		return ret;
	if (remote_check_flags(cc, flags, 0))
		return -EINVAL;
	ret = domains_start(conn(cc)->d, info.name, err, sizeof(err));
	if (ret)
		return remote_fail(cc, ret, err);
	/* the reply carries the domain with its new id */
	if (domains_lookup_name(conn(cc)->d, info.name, &info))
		return remote_err(cc, VIR_ERR_NO_DOMAIN, "domain '%s' went away while starting", info.name);
	return remote_put_dom(cc->ret, &info);
}

REMOTE_HANDLER(domain_shutdown)
{
	return dom_op(cc, false, 0, domains_shutdown);
}

REMOTE_HANDLER(domain_shutdown_flags)
{
	/* virDomainShutdownFlagValues: any method is gmm's one (0 = default) */
	return dom_op(cc, true, 0x3f, domains_shutdown);
}

REMOTE_HANDLER(domain_destroy)
{
	return dom_op(cc, false, 0, domains_destroy);
}

REMOTE_HANDLER(domain_destroy_flags)
{
	/* VIR_DOMAIN_DESTROY_GRACEFUL 1: gmm's destroy parks the vCPUs either way */
	return dom_op(cc, true, 1 | 2, domains_destroy);
}

REMOTE_HANDLER(domain_get_info)
{
	struct domain_info info;
	int ret = remote_dom_args(cc, &info, NULL);

	if (ret)
		return ret;
	xdr_put_u32(cc->ret, (uint32_t)info.state); /* unsigned char: 4 bytes in XDR */
	xdr_put_u64(cc->ret, info.max_mem_bytes >> 10);
	xdr_put_u64(cc->ret, info.cur_mem_bytes >> 10);
	xdr_put_u32(cc->ret, (uint32_t)info.vcpus); /* unsigned short */
	return xdr_put_u64(cc->ret, info.cpu_time_ns);
}

REMOTE_HANDLER(domain_get_state)
{
	struct domain_info info;
	uint32_t flags;
	int ret = remote_dom_args(cc, &info, &flags);

	if (ret)
		return ret;
	if (remote_check_flags(cc, flags, 0))
		return -EINVAL;
	xdr_put_i32(cc->ret, info.state);
	return xdr_put_i32(cc->ret, info.reason);
}

REMOTE_HANDLER(domain_get_os_type)
{
	struct domain_info info;
	int ret = remote_dom_args(cc, &info, NULL);

	return ret ? ret : xdr_put_string(cc->ret, "hvm", REMOTE_STRING_MAX);
}

REMOTE_HANDLER(domain_get_autostart)
{
	struct domain_info info;
	int ret = remote_dom_args(cc, &info, NULL);

	return ret ? ret : xdr_put_i32(cc->ret, info.autostart);
}

REMOTE_HANDLER(domain_set_autostart)
{
	struct domain_info info;
	char err[DOMAINS_ERR_MAX] = "";
	int32_t on;
	int ret;

	ret = remote_dom_args(cc, &info, (uint32_t *)&on);
	if (ret)
		return ret;
	ret = domains_set_autostart(conn(cc)->d, info.name, on != 0, err, sizeof(err));
	return ret ? remote_fail(cc, ret, err) : 0;
}

REMOTE_HANDLER(domain_is_active)
{
	struct domain_info info;
	int ret = remote_dom_args(cc, &info, NULL);

	return ret ? ret : xdr_put_i32(cc->ret, info.state == DOMAIN_RUNNING);
}

REMOTE_HANDLER(domain_is_persistent)
{
	struct domain_info info;
	int ret = remote_dom_args(cc, &info, NULL);

	return ret ? ret : xdr_put_i32(cc->ret, info.persistent);
}

REMOTE_HANDLER(domain_is_updated)
{
	struct domain_info info;
	int ret = remote_dom_args(cc, &info, NULL);

	/* a running domain's next-start definition is not tracked apart */
	return ret ? ret : xdr_put_i32(cc->ret, 0);
}

REMOTE_HANDLER(domain_has_managed_save_image)
{
	struct domain_info info;
	uint32_t flags;
	int ret = remote_dom_args(cc, &info, &flags);

	return ret ? ret : xdr_put_i32(cc->ret, 0); /* gmm has no managed save */
}

REMOTE_HANDLER(domain_snapshot_num)
{
	struct domain_info info;
	uint32_t flags;
	int ret = remote_dom_args(cc, &info, &flags);

	/* virsh undefine asks; gmm has no snapshots */
	return ret ? ret : xdr_put_i32(cc->ret, 0);
}

REMOTE_HANDLER(domain_get_messages)
{
	struct domain_info info;
	uint32_t flags;
	int ret = remote_dom_args(cc, &info, &flags);

	return ret ? ret : xdr_put_count(cc->ret, 0, 2048);
}

REMOTE_HANDLER(domain_get_xml_desc)
{
	struct domain_info info;
	char err[DOMAINS_ERR_MAX] = "";
	uint32_t flags;
	char *xml;
	int ret;

	ret = remote_dom_args(cc, &info, &flags);
	if (ret)
		return ret;
	if (remote_check_flags(cc, flags, XML_SECURE | XML_INACTIVE | XML_UPDATE_CPU | XML_MIGRATABLE))
		return -EINVAL;
	xml = domains_xml(conn(cc)->d, info.name, flags & XML_INACTIVE, err, sizeof(err));
	if (!xml)
		return remote_fail(cc, -ENOENT, err[0] ? err : "no such domain");
	ret = xdr_put_string(cc->ret, xml, REMOTE_STRING_MAX);
	free(xml);
	return ret;
}

REMOTE_HANDLER(domain_get_security_label)
{
	struct domain_info info;
	int ret = remote_dom_args(cc, &info, NULL);

	if (ret)
		return ret;
	remote_put_char_array(cc->ret, "", REMOTE_SECURITY_LABEL_MAX);
	return xdr_put_i32(cc->ret, 0); /* enforcing */
}

REMOTE_HANDLER(domain_get_max_vcpus)
{
	struct domain_info info;
	int ret = remote_dom_args(cc, &info, NULL);

	return ret ? ret : xdr_put_i32(cc->ret, info.vcpus);
}

REMOTE_HANDLER(domain_get_vcpus_flags)
{
	struct domain_info info;
	uint32_t flags;
	int ret = remote_dom_args(cc, &info, &flags);

	/* no vCPU hotplug: current, maximum, live and config are all <vcpu> */
	return ret ? ret : xdr_put_i32(cc->ret, info.vcpus);
}

REMOTE_HANDLER(domain_get_max_memory)
{
	struct domain_info info;
	int ret = remote_dom_args(cc, &info, NULL);

	return ret ? ret : xdr_put_u64(cc->ret, info.max_mem_bytes >> 10);
}
