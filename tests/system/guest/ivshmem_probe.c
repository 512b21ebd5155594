// SPDX-License-Identifier: GPL-2.0
/*
 * ivshmem-probe: runs inside a test guest (static binary, no libraries).
 *
 * Finds every ivshmem PCI device (1af4:1110) in /sys/bus/pci/devices,
 * enables it, reads the size of BAR2 from the `resource` file, maps
 * `resource2` and prints the first bytes and the vbus bridge header, one
 * "key: value" line each, for the test to parse:
 *
 *   devices: N
 *   device: 0000:00:03.0
 *   bar2_size: 4194304
 *   bytes: 41 56 4d 2d ...
 *   magic: 0x535542562d4d5641
 *   magic_ok: 1
 *   abi_major: 1
 *   abi_minor: 0
 *   header_size: 192
 *   region_size: 4194304
 *   host_peer_id: 0
 *   num_vectors: 4
 *   host_state: 2
 *
 * With `--doorbell PEER VECTOR` it also rings the doorbell of the first
 * device: it writes (PEER << 16) | VECTOR to the Doorbell register (BAR0,
 * offset 12), which QEMU turns into a write to PEER's eventfd VECTOR, and
 * prints "doorbell: PEER VECTOR".
 *
 * Exit status: 0 when at least one device was probed, 2 when none was
 * found, 1 on any other error.
 */
#include <dirent.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/vbus.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define SYSFS_PCI "/sys/bus/pci/devices"
#define IVSHMEM_DOORBELL 12	/* BAR0 register offset */

static int probe_read_hex(const char *dev, const char *file, unsigned long *out)
{
	char path[512];
	FILE *f;
	int ok;

	snprintf(path, sizeof(path), "%s/%s/%s", SYSFS_PCI, dev, file);
	f = fopen(path, "r");
	if (!f)
		return -1;
	ok = fscanf(f, "%lx", out) == 1;
	fclose(f);
	return ok ? 0 : -1;
}

/* Line @bar of the `resource` file: "start end flags" in hex. */
static int probe_bar(const char *dev, int bar, uint64_t *start_out, uint64_t *size)
{
	char path[512];
	unsigned long long start, end, flags;
	FILE *f;
	int i, ok = 0;

	snprintf(path, sizeof(path), "%s/%s/resource", SYSFS_PCI, dev);
	f = fopen(path, "r");
	if (!f)
		return -1;
	for (i = 0; i <= bar; i++) {
		ok = fscanf(f, "%llx %llx %llx", &start, &end, &flags) == 3;
		if (!ok)
			break;
	}
	fclose(f);
	if (!ok || end < start)
		return -1;
	*size = end - start + 1;
	if (start_out)
		*start_out = start;
	return 0;
}

/* Writes the doorbell register; resource0 maps the page holding BAR0. */
static int probe_doorbell(const char *dev, unsigned peer, unsigned vector)
{
	long page = sysconf(_SC_PAGESIZE);
	uint64_t start, size, in_page;
	volatile uint32_t *reg;
	char path[512];
	uint8_t *p;
	int fd;

	if (probe_bar(dev, 0, &start, &size)) {
		fprintf(stderr, "ivshmem-probe: %s: cannot read BAR0\n", dev);
		return -1;
	}
	in_page = start & (uint64_t)(page - 1);
	snprintf(path, sizeof(path), "%s/%s/resource0", SYSFS_PCI, dev);
	fd = open(path, O_RDWR | O_SYNC);
	if (fd < 0) {
		fprintf(stderr, "ivshmem-probe: open %s: %s\n", path, strerror(errno));
		return -1;
	}
	p = mmap(NULL, (size_t)page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED) {
		fprintf(stderr, "ivshmem-probe: mmap %s: %s\n", path, strerror(errno));
		return -1;
	}
	reg = (volatile uint32_t *)(p + in_page + IVSHMEM_DOORBELL);
	*reg = htole32((peer << 16) | (vector & 0xffff));
	munmap(p, (size_t)page);
	printf("doorbell: %u %u\n", peer, vector);
	return 0;
}

/* pci_enable_device() through sysfs, so that BAR decoding is on. */
static void probe_enable(const char *dev)
{
	char path[512];
	int fd;

	snprintf(path, sizeof(path), "%s/%s/enable", SYSFS_PCI, dev);
	fd = open(path, O_WRONLY);
	if (fd < 0)
		return;
	if (write(fd, "1", 1) != 1)
		fprintf(stderr, "ivshmem-probe: enable %s: %s\n", dev, strerror(errno));
	close(fd);
}

static int probe_device(const char *dev)
{
	const struct vbus_bridge_header *hdr;
	char path[512];
	uint64_t size;
	uint8_t *p;
	int fd, i;

	printf("device: %s\n", dev);
	probe_enable(dev);
	if (probe_bar(dev, 2, NULL, &size)) {
		fprintf(stderr, "ivshmem-probe: %s: cannot read BAR2 size\n", dev);
		return -1;
	}
	printf("bar2_size: %" PRIu64 "\n", size);

	snprintf(path, sizeof(path), "%s/%s/resource2", SYSFS_PCI, dev);
	fd = open(path, O_RDONLY | O_SYNC);
	if (fd < 0) {
		fprintf(stderr, "ivshmem-probe: open %s: %s\n", path, strerror(errno));
		return -1;
	}
	p = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED) {
		fprintf(stderr, "ivshmem-probe: mmap %s: %s\n", path, strerror(errno));
		return -1;
	}

	printf("bytes:");
	for (i = 0; i < 16; i++)
		printf(" %02x", p[i]);
	printf("\n");

	hdr = (const struct vbus_bridge_header *)p;
	printf("magic: 0x%016" PRIx64 "\n", (uint64_t)le64toh(hdr->magic));
	printf("magic_ok: %d\n", le64toh(hdr->magic) == VBUS_MAGIC);
	printf("abi_major: %u\n", le16toh(hdr->abi_major));
	printf("abi_minor: %u\n", le16toh(hdr->abi_minor));
	printf("header_size: %u\n", le32toh(hdr->header_size));
	printf("region_size: %" PRIu64 "\n", (uint64_t)le64toh(hdr->region_size));
	printf("host_peer_id: %u\n", le32toh(hdr->host_peer_id));
	printf("num_vectors: %u\n", le32toh(hdr->num_vectors));
	printf("host_state: %u\n", le32toh(hdr->host_state));
	munmap(p, size);
	return 0;
}

int main(int argc, char **argv)
{
	unsigned long vendor, device;
	unsigned peer = 0, vector = 0;
	int doorbell = 0, found = 0, failed = 0;
	struct dirent *de;
	DIR *d;

	if (argc == 4 && !strcmp(argv[1], "--doorbell")) {
		doorbell = 1;
		peer = (unsigned)strtoul(argv[2], NULL, 0);
		vector = (unsigned)strtoul(argv[3], NULL, 0);
	} else if (argc != 1) {
		fprintf(stderr, "usage: ivshmem_probe [--doorbell PEER VECTOR]\n");
		return 1;
	}

	d = opendir(SYSFS_PCI);
	if (!d) {
		fprintf(stderr, "ivshmem-probe: %s: %s\n", SYSFS_PCI, strerror(errno));
		return 1;
	}
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		if (probe_read_hex(de->d_name, "vendor", &vendor) ||
		    probe_read_hex(de->d_name, "device", &device))
			continue;
		if (vendor != VBUS_PCI_VENDOR || device != VBUS_PCI_DEVICE)
			continue;
		found++;
		if (probe_device(de->d_name))
			failed++;
		else if (doorbell && found == 1 && probe_doorbell(de->d_name, peer, vector))
			failed++;
	}
	closedir(d);
	printf("devices: %d\n", found);
	if (!found)
		return 2;
	return failed ? 1 : 0;
}
