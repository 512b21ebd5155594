// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * avm_rr: TCP request/response latency, built static so the same binary
 * runs in the guest (server) and in the test's network namespace (client).
 *
 *   avm_rr server PORT
 *       listen on PORT, print "listening", go to the background and echo
 *       every byte back, one connection after the other
 *   avm_rr client HOST PORT COUNT SIZE [WARMUP]
 *       send SIZE bytes, wait for the same SIZE bytes back (checked),
 *       WARMUP + COUNT times; print one line of round-trip statistics
 *       over the last COUNT:
 *       "rr count N size S min_us A p50_us B p90_us C p99_us D max_us E mean_us F"
 *
 * Both ends set TCP_NODELAY, so every request is one segment.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_SIZE 65536

static void die(const char *what)
{
	perror(what);
	exit(2);
}

static long parse(const char *s, long lo, long hi, const char *what)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < lo || v > hi) {
		fprintf(stderr, "bad %s: %s\n", what, s);
		exit(2);
	}
	return v;
}

static void nodelay(int fd)
{
	int one = 1;

	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0)
		die("TCP_NODELAY");
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int read_all(int fd, char *p, size_t n)
{
	while (n) {
		ssize_t r = read(fd, p, n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

static void __attribute__((noreturn)) server(int port)
{
	static char buf[MAX_SIZE];
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	int one = 1, lfd = socket(AF_INET, SOCK_STREAM, 0);

	if (lfd < 0)
		die("socket");
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die("bind");
	if (listen(lfd, 4) < 0)
		die("listen");
	printf("listening\n");
	fflush(stdout);
	if (daemon(0, 0) < 0)
		die("daemon");
	for (;;) {
		int fd = accept(lfd, NULL, NULL);
		ssize_t r;

		if (fd < 0)
			continue;
		nodelay(fd);
		while ((r = read(fd, buf, sizeof(buf))) > 0)
			if (write_all(fd, buf, (size_t)r) < 0)
				break;
		close(fd);
	}
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static double pct(const uint64_t *v, long n, double p)
{
	long i = (long)(p * (double)(n - 1) + 0.5);

	return (double)v[i] / 1000.0;
}

static int client(const char *host, int port, long count, long size, long warmup)
{
	static char out[MAX_SIZE], in[MAX_SIZE];
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	uint64_t *rtt = calloc((size_t)count, sizeof(*rtt));
	double sum = 0;
	long i;
	int fd;

	if (!rtt)
		die("calloc");
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
		fprintf(stderr, "bad address %s\n", host);
		return 2;
	}
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		die("socket");
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die("connect");
	nodelay(fd);
	for (i = 0; i < warmup + count; i++) {
		uint64_t t0;

		memset(out, (int)(i & 0xff), (size_t)size);
		t0 = now_ns();
		if (write_all(fd, out, (size_t)size) < 0 || read_all(fd, in, (size_t)size) < 0)
			die("transaction");
		if (i >= warmup)
			rtt[i - warmup] = now_ns() - t0;
		if (memcmp(in, out, (size_t)size) != 0) {
			fprintf(stderr, "transaction %ld: echo differs\n", i);
			return 1;
		}
	}
	close(fd);
	qsort(rtt, (size_t)count, sizeof(*rtt), cmp_u64);
	for (i = 0; i < count; i++)
		sum += (double)rtt[i];
	printf("rr count %ld size %ld min_us %.1f p50_us %.1f p90_us %.1f p99_us %.1f max_us %.1f mean_us %.1f\n",
	       count, size, pct(rtt, count, 0), pct(rtt, count, 0.5), pct(rtt, count, 0.9),
	       pct(rtt, count, 0.99), pct(rtt, count, 1), sum / (double)count / 1000.0);
	free(rtt);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "server"))
		server((int)parse(argv[2], 1, 65535, "port"));
	if ((argc == 6 || argc == 7) && !strcmp(argv[1], "client"))
		return client(argv[2], (int)parse(argv[3], 1, 65535, "port"),
			      parse(argv[4], 1, 10000000, "count"),
			      parse(argv[5], 1, MAX_SIZE, "size"),
			      argc == 7 ? parse(argv[6], 0, 10000000, "warmup") : 0);
	fprintf(stderr, "usage: avm_rr server PORT\n"
			"       avm_rr client HOST PORT COUNT SIZE [WARMUP]\n");
	return 2;
}
