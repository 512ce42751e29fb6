/* Kernel kind detection and file reading; see boot.h. */
#include "vmm/boot.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmm/vm.h"

int boot_read_file(const char *path, uint8_t **data, size_t *len, size_t max)
{
	struct stat st;
	uint8_t *buf;
	size_t got = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		close(fd);
		return -EINVAL;
	}
	if ((uint64_t)st.st_size > max || st.st_size == 0) {
		close(fd);
		return -EFBIG;
	}
	buf = malloc(st.st_size);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, st.st_size - got);

		if (n <= 0) {
			int e = n < 0 ? -errno : -EIO;

			free(buf);
			close(fd);
			return e;
		}
		got += n;
	}
	close(fd);
	*data = buf;
	*len = got;
	return 0;
}

int boot_is_linux(const uint8_t *img, size_t len)
{
	const Elf64_Ehdr *eh = (const void *)img;

	if (len >= 0x206 && !memcmp(img + 0x202, "HdrS", 4))
		return 1; /* bzImage: the x86 boot protocol header */
	if (len < sizeof(*eh) || memcmp(eh->e_ident, ELFMAG, SELFMAG))
		return 0;
	/* vmlinux has no PT_DYNAMIC; the test guest (a static PIE) has one. */
	for (int i = 0; i < eh->e_phnum; i++) {
		const Elf64_Phdr *ph = (const void *)(img + eh->e_phoff + (uint64_t)i * sizeof(*ph));

		if (eh->e_phoff + (uint64_t)(i + 1) * sizeof(*ph) > len)
			return 0;
		if (ph->p_type == PT_DYNAMIC)
			return 0;
	}
	return 1;
}

int boot_load(struct vm *vm, char *err, size_t errlen)
{
	uint8_t *img = NULL;
	size_t len = 0;
	int ret = boot_read_file(vm->cfg.kernel, &img, &len, KERNEL_MAX_BYTES);

	if (ret) {
		snprintf(err, errlen, "kernel %s: %s", vm->cfg.kernel,
			 ret == -EFBIG ? "empty or larger than 256 MiB" :
			 ret == -EINVAL ? "not a regular file" : strerror(-ret));
		return ret;
	}
	if (boot_is_linux(img, len)) {
		vm->kind = GUEST_LINUX;
		if (vm->accel == &accel_native_ops) {
			snprintf(err, errlen, "kernel %s: a Linux kernel needs accel=kvm; the native "
				 "accelerator runs only gmm's trusted test guest (it is no isolation boundary)",
				 vm->cfg.kernel);
			ret = -ENOTSUP;
		} else {
			ret = boot_linux_load(vm, img, len, err, errlen);
		}
	} else {
		vm->kind = GUEST_TEST;
		ret = boot_test_guest_load(vm, img, len, err, errlen);
	}
	free(img);
	return ret;
}
