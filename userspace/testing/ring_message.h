/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The message every ring test and benchmark sends through a queue, in C so
 * that the kernel's ring code built in userspace (tests/unit/ring_compat)
 * writes the same bytes as GuestQueue: a header, then filler derived from
 * the sequence number.  A message of several segments is one chain; the
 * header sits at the start of its first buffer.  RingChecker
 * (ring_checker.h) is the one reader.
 */
#ifndef AVM_TESTING_RING_MESSAGE_H
#define AVM_TESTING_RING_MESSAGE_H

#include <stdint.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

struct ring_msg_header {
  uint64_t seq;      /* from 0, one per message */
  uint32_t len;      /* the whole message, header included */
  uint16_t segments; /* entries in its chain */
  uint16_t last;     /* the producer's last message */
  uint32_t checksum; /* ring_msg_checksum() of seq and the filler */
  uint32_t pad;
};

/* FNV-1a over @seq and the @n bytes at @p. */
static inline uint32_t ring_msg_checksum(uint64_t seq, const uint8_t* p, uint32_t n) {
  uint32_t h = 2166136261U;
  uint32_t i;

  for (i = 0; i < 8; i++) {
    h = (h ^ (uint8_t)(seq >> (8 * i))) * 16777619U;
  }
  for (i = 0; i < n; i++) {
    h = (h ^ p[i]) * 16777619U;
  }
  return h;
}

/*
 * Write message @seq of @len bytes (at least the header) into @msg.
 * @checksum 0 leaves the checksum 0 (benchmarks, which only check order).
 */
static inline void ring_msg_fill(uint8_t* msg, uint32_t len, uint64_t seq, uint16_t segments,
                                 int last, int checksum) {
  const uint32_t hdr = (uint32_t)sizeof(struct ring_msg_header);
  struct ring_msg_header h;
  uint32_t i;

  for (i = hdr; i < len; i++) {
    msg[i] = (uint8_t)(seq * 31 + i);
  }
  h.seq = seq;
  h.len = len;
  h.segments = segments;
  h.last = (uint16_t)(last != 0);
  h.checksum = checksum ? ring_msg_checksum(seq, msg + hdr, len - hdr) : 0;
  h.pad = 0;
  memcpy(msg, &h, hdr);
}

#ifdef __cplusplus
}
#endif

#endif
