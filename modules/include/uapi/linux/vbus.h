/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * AlacrityVM vbus: the bridge between a guest and its host over the shared
 * memory region of an ivshmem-doorbell PCI device (BAR2).
 *
 * Region layout (every offset is from the start of the region):
 *
 *   0                 struct vbus_bridge_header
 *   devtab_offset     devtab_slots x struct vbus_dev_desc
 *   evq_offset        struct vbus_evq_header + evq_entries x struct vbus_event
 *   call_offset       call_slots x struct vbus_call_slot
 *   ...               device areas, one per device (see vbus_ring.h)
 *
 * All fields are little-endian.  The host lays the region out and is the
 * only writer of everything except the fields marked "guest-written".
 * docs/abi.md describes every field, state transition and barrier.
 */
#ifndef _UAPI_LINUX_VBUS_H
#define _UAPI_LINUX_VBUS_H

#include <linux/types.h>
#include <linux/vbus_ring.h>

/* "AVM-VBUS" read as a little-endian 64-bit word */
#define VBUS_MAGIC		0x535542562d4d5641ULL
#define VBUS_ABI_MAJOR		1	/* incompatible changes bump this */
#define VBUS_ABI_MINOR		0	/* compatible additions bump this */

/* ivshmem-doorbell PCI identity (QEMU) */
#define VBUS_PCI_VENDOR		0x1af4
#define VBUS_PCI_DEVICE		0x1110

/* Doorbell vector the guest rings for bridge state and call channel work */
#define VBUS_BRIDGE_VECTOR	0
/* MSI-X vector the host raises for the event queue */
#define VBUS_EVQ_VECTOR		0

/* Bridge feature bits (host_features, guest_features, features) */
#define VBUS_F_HOTPLUG		(1ULL << 0)	/* devices come and go at run time */

/*
 * Bridge states, host_state and guest_state:
 *
 *   RESET  no link: nothing in the region may be used
 *   INIT   guest: "I have set up my side, please (re)start the link"
 *   READY  host: region laid out, waiting for a guest INIT
 *   RUN    link up: queues, event queue and call channel are live
 *
 * Host: RESET -> READY (layout done) -> RUN (on guest INIT) -> READY (on
 * guest RESET, or when the host reinitialises) ; any -> RESET on shutdown.
 * Guest: RESET -> INIT (probe) -> RUN (host is RUN with the epoch the guest
 * saw) -> RESET (remove).  A guest that sees the host leave RUN, or change
 * host_epoch, tears its devices down and starts again from INIT.
 */
#define VBUS_STATE_RESET	0
#define VBUS_STATE_INIT		1
#define VBUS_STATE_READY	2
#define VBUS_STATE_RUN		3

struct vbus_bridge_header {
	/* Cache line 0: written once by the host when it lays out the region */
	__le64 magic;		/* VBUS_MAGIC */
	__le16 abi_major;	/* VBUS_ABI_MAJOR */
	__le16 abi_minor;	/* VBUS_ABI_MINOR */
	__le32 header_size;	/* sizeof(struct vbus_bridge_header) */
	__le64 region_size;	/* bytes, a power of two, equal to BAR2 size */
	__le64 host_features;	/* VBUS_F_* the host offers */
	__le32 host_peer_id;	/* ivshmem peer id whose doorbells reach the host */
	__le32 num_vectors;	/* doorbell vectors the host listens on */
	__le32 devtab_offset;	/* device table */
	__le32 devtab_slots;	/* number of struct vbus_dev_desc */
	__le32 evq_offset;	/* struct vbus_evq_header */
	__le32 evq_entries;	/* events in the event ring, a power of two */
	__le32 call_offset;	/* call channel */
	__le32 call_slots;	/* number of struct vbus_call_slot */

	/* Cache line 1: host-written at run time */
	__le32 host_state;	/* VBUS_STATE_* */
	__le32 host_epoch;	/* bumped whenever the host restarts the link */
	__le64 features;	/* negotiated: host_features & guest_features */
	__le32 devtab_generation;	/* bumped on every device table change */
	__le32 reserved1[11];	/* zero */

	/* Cache line 2: guest-written */
	__le32 guest_state;	/* VBUS_STATE_* */
	__le32 guest_epoch;	/* host_epoch the guest last synchronised with */
	__le64 guest_features;	/* VBUS_F_* the guest accepts */
	__le32 reserved2[12];	/* zero */
};

/* Device types (struct vbus_dev_desc.type) */
#define VBUS_DEV_TYPE_NONE	0
#define VBUS_DEV_TYPE_VENET	1	/* virtual ethernet, linux/vbus_venet.h */

/* Device slot states (struct vbus_dev_desc.state) */
#define VBUS_DEV_EMPTY		0	/* slot unused */
#define VBUS_DEV_PRESENT	1	/* device usable */
#define VBUS_DEV_REMOVING	2	/* host wants it back: guest closes it */

/*
 * struct vbus_dev_desc - one slot of the device table (host-written).
 *
 * The host fills every other field before it stores @state = PRESENT
 * (release) and bumps devtab_generation.  A guest reads @state first
 * (acquire), copies the slot and checks that the area lies inside the
 * region and the config and queue table inside the area.
 */
struct vbus_dev_desc {
	__le32 id;		/* non-zero, unique within the region */
	__le32 type;		/* VBUS_DEV_TYPE_* */
	__le32 abi_version;	/* version of the device class protocol */
	__le32 state;		/* VBUS_DEV_* */
	__le64 area_offset;	/* device area, from the start of the region */
	__le64 area_size;	/* bytes */
	__le32 config_offset;	/* class config, from the start of the area */
	__le32 config_size;	/* bytes */
	__le32 queues_offset;	/* struct vbus_queue_desc array, in the area */
	__le32 num_queues;	/* entries in that array */
	__le32 doorbell_vector;	/* vector the guest rings for this device */
	__le32 reserved[3];	/* zero */
};

/*
 * Event queue: host-to-guest, raised on MSI-X vector VBUS_EVQ_VECTOR and
 * gated by its own shm-signal.  The host is the only producer; the guest
 * reports how far it has read in @consumed, on its own cache line.
 */
#define VBUS_EV_DEV_ADD		1	/* dev_id appeared in the device table */
#define VBUS_EV_DEV_REMOVE	2	/* dev_id is being removed: close it */
#define VBUS_EV_DEV_CONFIG	3	/* dev_id's config changed (link, ...) */
#define VBUS_EV_SIGNAL		4	/* dev_id queue @data has work for the guest */
#define VBUS_EV_CALL_DONE	5	/* call slot @data has its response */

struct vbus_event {
	__le32 seq;		/* event number + 1; written last (release) */
	__le16 type;		/* VBUS_EV_* */
	__le16 reserved;	/* zero */
	__le32 dev_id;		/* device the event is about, 0 for none */
	__le32 data;		/* type-specific, see above */
};

struct vbus_evq_header {
	/* host-written */
	__le32 overflows;	/* events dropped because the ring was full */
	__le32 reserved1[15];	/* zero */
	/* guest-written */
	__le32 consumed;	/* events the guest has finished reading */
	__le32 reserved2[15];	/* zero */
	/* host -> guest signal for the whole event queue */
	struct vbus_shm_signal signal;
	/* followed by evq_entries x struct vbus_event */
};

/*
 * Call channel: guest-to-host requests, raised on doorbell vector
 * VBUS_BRIDGE_VECTOR.  A slot is idle when resp_seq == req_seq.  The guest
 * fills the request half and then stores req_seq + 1 (release); the host
 * copies the request, runs it, fills the response half, stores
 * resp_seq = req_seq (release) and raises VBUS_EV_CALL_DONE.
 */
#define VBUS_CALL_DATA_SIZE	48

#define VBUS_CALL_DEV_OPEN	1	/* start serving dev_id's queues */
#define VBUS_CALL_DEV_CLOSE	2	/* stop serving; acknowledges a remove */
#define VBUS_CALL_CLASS_BASE	0x100	/* device class calls start here */

struct vbus_call_slot {
	/* guest-written request */
	__le32 req_seq;		/* bumped by the guest to submit */
	__le32 op;		/* VBUS_CALL_* or a class call */
	__le32 dev_id;		/* target device, 0 for the bridge */
	__le32 req_len;		/* bytes of @req_data used */
	__u8 req_data[VBUS_CALL_DATA_SIZE];
	/* host-written response */
	__le32 resp_seq;	/* equals req_seq once the response is ready */
	__le32 status;		/* 0, or a positive errno value */
	__le32 resp_len;	/* bytes of @resp_data used */
	__le32 reserved;	/* zero */
	__u8 resp_data[VBUS_CALL_DATA_SIZE];
};

#endif /* _UAPI_LINUX_VBUS_H */
