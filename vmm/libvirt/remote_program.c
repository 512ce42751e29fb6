/*
 * REMOTE_PROGRAM's procedure table: every procedure gmm serves, sorted by
 * number (remote_protocol.x, libvirt 9.0). Any other number libvirt
 * defines gets VIR_ERR_NO_SUPPORT, as libvirtd answers for a driver that
 * lacks the call; numbers beyond libvirt's get its "unknown procedure".
 */
#include <errno.h>

#include "vmm/libvirt/remote.h"

static const struct rpc_proc remote_procs[] = {
	{ 1, "CONNECT_OPEN", remote_connect_open },
	{ 2, "CONNECT_CLOSE", remote_connect_close },
	{ 3, "CONNECT_GET_TYPE", remote_connect_get_type },
	{ 4, "CONNECT_GET_VERSION", remote_connect_get_version },
	{ 5, "CONNECT_GET_MAX_VCPUS", remote_connect_get_max_vcpus },
	{ 6, "NODE_GET_INFO", remote_node_get_info },
	{ 7, "CONNECT_GET_CAPABILITIES", remote_connect_get_capabilities },
	{ 9, "DOMAIN_CREATE", remote_domain_create },
	{ 10, "DOMAIN_CREATE_XML", remote_domain_create_xml },
	{ 11, "DOMAIN_DEFINE_XML", remote_domain_define_xml },
	{ 12, "DOMAIN_DESTROY", remote_domain_destroy },
	{ 14, "DOMAIN_GET_XML_DESC", remote_domain_get_xml_desc },
	{ 15, "DOMAIN_GET_AUTOSTART", remote_domain_get_autostart },
	{ 16, "DOMAIN_GET_INFO", remote_domain_get_info },
	{ 17, "DOMAIN_GET_MAX_MEMORY", remote_domain_get_max_memory },
	{ 18, "DOMAIN_GET_MAX_VCPUS", remote_domain_get_max_vcpus },
	{ 19, "DOMAIN_GET_OS_TYPE", remote_domain_get_os_type },
	{ 21, "CONNECT_LIST_DEFINED_DOMAINS", remote_connect_list_defined_domains },
	{ 22, "DOMAIN_LOOKUP_BY_ID", remote_domain_lookup_by_id },
	{ 23, "DOMAIN_LOOKUP_BY_NAME", remote_domain_lookup_by_name },
	{ 24, "DOMAIN_LOOKUP_BY_UUID", remote_domain_lookup_by_uuid },
	{ 25, "CONNECT_NUM_OF_DEFINED_DOMAINS", remote_connect_num_of_defined_domains },
	{ 29, "DOMAIN_SET_AUTOSTART", remote_domain_set_autostart },
	{ 30, "DOMAIN_SET_MAX_MEMORY", remote_domain_set_max_memory },
	{ 31, "DOMAIN_SET_MEMORY", remote_domain_set_memory },
	{ 33, "DOMAIN_SHUTDOWN", remote_domain_shutdown },
	{ 35, "DOMAIN_UNDEFINE", remote_domain_undefine },
	{ 37, "CONNECT_LIST_DOMAINS", remote_connect_list_domains },
	{ 51, "CONNECT_NUM_OF_DOMAINS", remote_connect_num_of_domains },
	{ 59, "CONNECT_GET_HOSTNAME", remote_connect_get_hostname },
	{ 60, "CONNECT_SUPPORTS_FEATURE", remote_connect_supports_feature },
	{ 66, "AUTH_LIST", remote_auth_list },
	{ 101, "NODE_GET_CELLS_FREE_MEMORY", remote_node_get_cells_free_memory },
	{ 102, "NODE_GET_FREE_MEMORY", remote_node_get_free_memory },
	{ 110, "CONNECT_GET_URI", remote_connect_get_uri },
	{ 121, "DOMAIN_GET_SECURITY_LABEL", remote_domain_get_security_label },
	{ 122, "NODE_GET_SECURITY_MODEL", remote_node_get_security_model },
	{ 149, "CONNECT_IS_SECURE", remote_connect_is_secure },
	{ 150, "DOMAIN_IS_ACTIVE", remote_domain_is_active },
	{ 151, "DOMAIN_IS_PERSISTENT", remote_domain_is_persistent },
	{ 157, "CONNECT_GET_LIB_VERSION", remote_connect_get_lib_version },
	{ 159, "DOMAIN_MEMORY_STATS", remote_domain_memory_stats },
	{ 183, "DOMAIN_HAS_MANAGED_SAVE_IMAGE", remote_domain_has_managed_save_image },
	{ 187, "DOMAIN_SNAPSHOT_NUM", remote_domain_snapshot_num },
	{ 196, "DOMAIN_CREATE_WITH_FLAGS", remote_domain_create_with_flags },
	{ 197, "DOMAIN_SET_MEMORY_PARAMETERS", remote_domain_set_memory_parameters },
	{ 198, "DOMAIN_GET_MEMORY_PARAMETERS", remote_domain_get_memory_parameters },
	{ 200, "DOMAIN_GET_VCPUS_FLAGS", remote_domain_get_vcpus_flags },
	{ 202, "DOMAIN_IS_UPDATED", remote_domain_is_updated },
	{ 204, "DOMAIN_SET_MEMORY_FLAGS", remote_domain_set_memory_flags },
	{ 212, "DOMAIN_GET_STATE", remote_domain_get_state },
	{ 228, "NODE_GET_MEMORY_STATS", remote_node_get_memory_stats },
	{ 231, "DOMAIN_UNDEFINE_FLAGS", remote_domain_undefine_flags },
	{ 234, "DOMAIN_DESTROY_FLAGS", remote_domain_destroy_flags },
	{ 254, "DOMAIN_SET_NUMA_PARAMETERS", remote_domain_set_numa_parameters },
	{ 255, "DOMAIN_GET_NUMA_PARAMETERS", remote_domain_get_numa_parameters },
	{ 258, "DOMAIN_SHUTDOWN_FLAGS", remote_domain_shutdown_flags },
	{ 273, "CONNECT_LIST_ALL_DOMAINS", remote_connect_list_all_domains },
	{ 308, "DOMAIN_SET_MEMORY_STATS_PERIOD", remote_domain_set_memory_stats_period },
	{ 316, "CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY", remote_connect_domain_event_callback_register_any },
	{ 317, "CONNECT_DOMAIN_EVENT_CALLBACK_DEREGISTER_ANY", remote_connect_domain_event_callback_deregister_any },
	{ 350, "DOMAIN_DEFINE_XML_FLAGS", remote_domain_define_xml_flags },
	{ 360, "CONNECT_REGISTER_CLOSE_CALLBACK", remote_connect_register_close_callback },
	{ 361, "CONNECT_UNREGISTER_CLOSE_CALLBACK", remote_connect_unregister_close_callback },
	{ 426, "DOMAIN_GET_MESSAGES", remote_domain_get_messages },
};

static int remote_unsupported(struct rpc_call_ctl *cc)
{
	int32_t proc = cc->hdr->proc;

	/* the arguments are not ours to judge: skip them */
	cc->args->pos = cc->args->len;
	if (!remote_proc_name(proc)) {
		rpc_error_set(cc->err, cc->err_buf, cc->err_buf_len, VIR_ERR_RPC, VIR_FROM_RPC,
			      "unknown procedure: %d", proc);
		return -EPROTO;
	}
	rpc_error_set(cc->err, cc->err_buf, cc->err_buf_len, VIR_ERR_NO_SUPPORT, VIR_FROM_DOM,
		      "this function is not supported by the connection driver: gmm does not serve %s "
		      "(remote procedure %d)", remote_proc_name(proc), proc);
	return -EOPNOTSUPP;
}

const struct rpc_program remote_program = {
	.prog = REMOTE_PROGRAM,
	.vers = REMOTE_PROTOCOL_VERSION,
	.procs = remote_procs,
	.nr_procs = sizeof(remote_procs) / sizeof(remote_procs[0]),
	.unknown = remote_unsupported,
};
