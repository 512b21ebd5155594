// SPDX-License-Identifier: GPL-2.0
/*
 * avm_stream: a deterministic pseudo-random byte stream over TCP, for the
 * venet data-path tests.  Built static; the same binary runs in the guest
 * and (in the test's network namespace) on the host.
 *
 *   avm_stream hash BYTES SEED          sha256 of the stream, no network
 *   avm_stream send ADDR PORT BYTES SEED
 *                                       connect, send the stream, close
 *   avm_stream recv PORT                listen on PORT (any address), accept
 *                                       one connection, read until EOF
 *
 * send prints "sent BYTES"; recv and hash print "bytes N sha256 HEX", so
 * the receiver's checksum can be compared with the one `hash` computes
 * independently of the transfer.  recv prints "listening" once it accepts
 * connections.  The stream is xorshift64* from SEED, 8 bytes per step,
 * little-endian.  Exit status 0 on success, 1 on any error.
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
#include <unistd.h>

#define CHUNK (64 * 1024)

/* -- sha256 (FIPS 180-4) ------------------------------------------------ */

struct sha256 {
	uint32_t h[8];
	uint64_t len;
	uint8_t buf[64];
	size_t n;
};

static const uint32_t sha256_k[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
	0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
	0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
	0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
	0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

#define ROR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static void sha256_block(struct sha256 *s, const uint8_t *p)
{
	uint32_t w[64], a, b, c, d, e, f, g, h;
	int i;

	for (i = 0; i < 16; i++)
		w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
		       (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
	for (; i < 64; i++) {
		uint32_t s0 = ROR(w[i - 15], 7) ^ ROR(w[i - 15], 18) ^ (w[i - 15] >> 3);
		uint32_t s1 = ROR(w[i - 2], 17) ^ ROR(w[i - 2], 19) ^ (w[i - 2] >> 10);

		w[i] = w[i - 16] + s0 + w[i - 7] + s1;
	}
	a = s->h[0]; b = s->h[1]; c = s->h[2]; d = s->h[3];
	e = s->h[4]; f = s->h[5]; g = s->h[6]; h = s->h[7];
	for (i = 0; i < 64; i++) {
		uint32_t t1 = h + (ROR(e, 6) ^ ROR(e, 11) ^ ROR(e, 25)) + ((e & f) ^ (~e & g)) +
			      sha256_k[i] + w[i];
		uint32_t t2 = (ROR(a, 2) ^ ROR(a, 13) ^ ROR(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));

		h = g; g = f; f = e; e = d + t1;
		d = c; c = b; b = a; a = t1 + t2;
	}
	s->h[0] += a; s->h[1] += b; s->h[2] += c; s->h[3] += d;
	s->h[4] += e; s->h[5] += f; s->h[6] += g; s->h[7] += h;
}

static void sha256_init(struct sha256 *s)
{
	static const uint32_t h0[8] = {
		0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
		0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
	};

	memcpy(s->h, h0, sizeof(h0));
	s->len = 0;
	s->n = 0;
}

static void sha256_update(struct sha256 *s, const uint8_t *p, size_t len)
{
	s->len += len;
	if (s->n) {
		while (len && s->n < 64) {
			s->buf[s->n++] = *p++;
			len--;
		}
		if (s->n < 64)
			return;
		sha256_block(s, s->buf);
		s->n = 0;
	}
	for (; len >= 64; p += 64, len -= 64)
		sha256_block(s, p);
	memcpy(s->buf, p, len);
	s->n = len;
}

static void sha256_hex(struct sha256 *s, char out[65])
{
	uint64_t bits = s->len * 8;
	uint8_t pad[72] = { 0x80 };
	size_t padlen = (s->n < 56 ? 56 : 120) - s->n;
	int i;

	for (i = 0; i < 8; i++)
		pad[padlen + i] = (uint8_t)(bits >> (56 - 8 * i));
	sha256_update(s, pad, padlen + 8);
	for (i = 0; i < 8; i++)
		sprintf(out + 8 * i, "%08x", s->h[i]);
}

/* -- the stream ----------------------------------------------------------- */

static uint64_t gen_state;

static void gen_fill(uint8_t *p, size_t len)	/* len: a multiple of 8 */
{
	size_t i;

	for (i = 0; i < len; i += 8) {
		uint64_t x = gen_state;

		x ^= x >> 12;
		x ^= x << 25;
		x ^= x >> 27;
		gen_state = x;
		x *= 0x2545F4914F6CDD1DULL;
		memcpy(p + i, &x, 8);	/* x86: little-endian */
	}
}

static void gen_seed(uint64_t seed)
{
	gen_state = seed ? seed : 0x9E3779B97F4A7C15ULL;
}

static uint8_t chunk[CHUNK];

static int cmd_hash(uint64_t bytes, uint64_t seed)
{
	struct sha256 s;
	char hex[65];
	uint64_t left = bytes;

	gen_seed(seed);
	sha256_init(&s);
	while (left) {
		size_t n = left < CHUNK ? left : CHUNK;

		gen_fill(chunk, CHUNK);
		sha256_update(&s, chunk, n);
		left -= n;
	}
	sha256_hex(&s, hex);
	printf("bytes %llu sha256 %s\n", (unsigned long long)bytes, hex);
	return 0;
}

static int cmd_send(const char *addr, int port, uint64_t bytes, uint64_t seed)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	uint64_t left = bytes;
	int fd;

	if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1) {
		fprintf(stderr, "avm_stream: bad address %s\n", addr);
		return 1;
	}
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		perror("avm_stream: connect");
		return 1;
	}
	gen_seed(seed);
	while (left) {
		size_t n = left < CHUNK ? left : CHUNK, off = 0;

		gen_fill(chunk, CHUNK);
		while (off < n) {
			ssize_t w = write(fd, chunk + off, n - off);

			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0) {
				perror("avm_stream: write");
				return 1;
			}
			off += w;
		}
		left -= n;
	}
	if (close(fd) < 0) {
		perror("avm_stream: close");
		return 1;
	}
	printf("sent %llu\n", (unsigned long long)bytes);
	return 0;
}

static int cmd_recv(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port),
				  .sin_addr.s_addr = htonl(INADDR_ANY) };
	struct sha256 s;
	char hex[65];
	uint64_t total = 0;
	int one = 1, lfd, fd;

	lfd = socket(AF_INET, SOCK_STREAM, 0);
	if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 1) < 0) {
		perror("avm_stream: listen");
		return 1;
	}
	printf("listening\n");
	fflush(stdout);
	fd = accept(lfd, NULL, NULL);
	if (fd < 0) {
		perror("avm_stream: accept");
		return 1;
	}
	close(lfd);
	sha256_init(&s);
	for (;;) {
		ssize_t n = read(fd, chunk, CHUNK);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			perror("avm_stream: read");
			return 1;
		}
		if (n == 0)
			break;
		sha256_update(&s, chunk, n);
		total += n;
	}
	close(fd);
	sha256_hex(&s, hex);
	printf("bytes %llu sha256 %s\n", (unsigned long long)total, hex);
	return 0;
}

static int usage(void)
{
	fprintf(stderr, "usage: avm_stream hash BYTES SEED\n"
			"       avm_stream send ADDR PORT BYTES SEED\n"
			"       avm_stream recv PORT\n");
	return 1;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 4 && !strcmp(argv[1], "hash"))
		return cmd_hash(strtoull(argv[2], NULL, 0), strtoull(argv[3], NULL, 0));
	if (argc == 6 && !strcmp(argv[1], "send"))
		return cmd_send(argv[2], atoi(argv[3]), strtoull(argv[4], NULL, 0),
				strtoull(argv[5], NULL, 0));
	if (argc == 3 && !strcmp(argv[1], "recv"))
		return cmd_recv(atoi(argv[2]));
	return usage();
}
