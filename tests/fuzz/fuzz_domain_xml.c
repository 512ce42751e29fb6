/*
 * libFuzzer target: a hostile libvirt client's domain XML (virsh define,
 * DOMAIN_DEFINE_XML, DOMAIN_CREATE_XML).
 *
 * Input: the document, whole. domain_xml_parse() must refuse it with a
 * message or accept it; an accepted domain is formatted
 * (domain_xml_format(), what dumpxml prints), the result parsed again, and
 * the second parse must accept it and give the same domain: formatting
 * that again gives the same text, byte for byte (domain_xml.h: "parsing
 * the result gives def back").
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/libvirt/domain_xml.h"

#define check(cond) do { if (!(cond)) __builtin_trap(); } while (0)

static void check_err(int ret, const char *err)
{
	if (!ret)
		return;
	check(ret < 0);
	check(memchr(err, '\0', DOMAIN_XML_ERR_MAX) != NULL);
	check(err[0] != '\0');
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct domain_def def, again; /* ~20 KiB each: not on the stack */
	char err[DOMAIN_XML_ERR_MAX];
	char *text, *text2;
	int ret;

	memset(err, 0x5a, sizeof(err));
	ret = domain_xml_parse((const char *)data, size, &def, err, sizeof(err));
	check_err(ret, err);
	if (ret)
		return 0;
	check(memchr(def.uuid, '\0', sizeof(def.uuid)) == def.uuid + DOMAIN_UUID_LEN - 1);
	text = domain_xml_format(&def, NULL);
	check(text != NULL);
	memset(err, 0x5a, sizeof(err));
	ret = domain_xml_parse(text, strlen(text), &again, err, sizeof(err));
	if (ret) /* what gmm printed, gmm must read */
		__builtin_trap();
	check(!strcmp(def.uuid, again.uuid));
	check(!strcmp(def.cfg.name, again.cfg.name));
	check(def.cfg.mem_bytes == again.cfg.mem_bytes);
	check(def.cfg.vcpus == again.cfg.vcpus);
	text2 = domain_xml_format(&again, NULL);
	check(text2 != NULL);
	check(!strcmp(text, text2));
	free(text);
	free(text2);
	return 0;
}
