/* SPDX-License-Identifier: GPL-2.0 */
/*
 * AlacrityVM vbus_pci: what the files of the bridge driver share.  The
 * driver is one module, vbus_pci.ko, in one file per job:
 *
 *   vbus_pci_link.c  PCI probe/remove, the bridge state machine (link),
 *                    the MSI-X handler and the statistics/ sysfs group
 *   vbus_bus.c       the "vbus" bus, its driver model and the devices of
 *                    the device table, the class driver API
 *   vbus_evq.c       the event queue (host to guest)
 *   vbus_call.c      the call channel (guest to host)
 *   vbus_ring.c      the guest endpoint of a queue (exported)
 *
 * BAR0 holds the ivshmem registers (the doorbell at offset 12), BAR2 the
 * shared region laid out by the host (<linux/vbus.h>, docs/abi.md).
 *
 * The region is written by the host at any time and is not trusted: every
 * value is copied, bounds-checked and only then used.  A violation is
 * logged (rate-limited), counted and answered with a bridge reset.
 *
 * Locking:
 *  - b->lock (spinlock, taken from the MSI-X handler) protects the link
 *    state, the event queue consumer, the slot -> device table used by
 *    the interrupt path, the queue handlers and the call slot states.
 *  - b->link_lock (mutex) serializes link restarts and device add/remove;
 *    they run from probe, remove and b->wq (an ordered workqueue).
 */
#ifndef _VBUS_PCI_H
#define _VBUS_PCI_H

#include <linux/completion.h>
#include <linux/io.h>
#include <linux/mutex.h>
#include <linux/pci.h>
#include <linux/semaphore.h>
#include <linux/spinlock.h>
#include <linux/wait.h>
#include <linux/workqueue.h>

#include "vbus_bus.h"

#define VBUS_PCI_DOORBELL	12	/* BAR0 register: (peer << 16) | vector */
#define VBUS_PCI_REGS_BAR	0
#define VBUS_PCI_REGION_BAR	2
#define VBUS_PCI_FEATURES	VBUS_F_HOTPLUG	/* bridge features we accept */
#define VBUS_PCI_MAX_SLOTS	1024	/* device table slots we accept */
#define VBUS_PCI_MAX_CALLS	256	/* call slots we accept */
#define VBUS_PCI_MAX_EVENTS	65536	/* event queue entries we accept */
#define VBUS_PCI_EVQ_BUDGET	256	/* events per interrupt before deferring */
#define VBUS_PCI_POLL_SLICE	(HZ / 20)	/* re-check period while waiting */

/* Link state of a bridge (b->state) */
enum vbus_pci_link {
	VBUS_PCI_LINK_DOWN,	/* no link; a restart is queued or running */
	VBUS_PCI_LINK_INIT,	/* INIT written, waiting for the host's RUN */
	VBUS_PCI_LINK_WAIT,	/* handshake timed out: retry on an interrupt */
	VBUS_PCI_LINK_RUN,	/* link up */
	VBUS_PCI_LINK_DEAD,	/* driver going away */
};

/* State of one call slot (struct vbus_pci_call.state) */
enum vbus_pci_call_state {
	VBUS_PCI_CALL_FREE,	/* nobody uses the slot */
	VBUS_PCI_CALL_INFLIGHT,	/* request submitted, caller waiting */
	VBUS_PCI_CALL_DONE,	/* response copied (or link lost) */
	VBUS_PCI_CALL_ABANDONED,	/* caller timed out; freed on response */
};

/**
 * struct vbus_pci_call - guest-private state of one call slot
 * @done: completed when @state leaves INFLIGHT
 * @state: enum vbus_pci_call_state, under b->lock
 * @seq: last req_seq written to the slot (0 after a link restart)
 * @status: 0 or -errno of the finished call
 * @resp_len: valid bytes in @resp
 * @resp: private copy of the host's response data
 */
struct vbus_pci_call {
	struct completion done;
	int state;
	u32 seq;
	int status;
	u32 resp_len;
	u8 resp[VBUS_CALL_DATA_SIZE];
};

/**
 * struct vbus_pci_stats - bridge counters (under b->lock)
 * @irqs: MSI-X interrupts taken
 * @events: event queue entries consumed
 * @signals: VBUS_EV_SIGNAL events dispatched to a queue handler
 * @doorbells: doorbells rung on the bridge vector
 * @faults: host protocol violations seen
 * @restarts: link restarts
 * @call_timeouts: calls that got no answer in time
 * @evq_overflows: event queue overflows reported by the host
 */
struct vbus_pci_stats {
	u64 irqs;
	u64 events;
	u64 signals;
	u64 doorbells;
	u64 faults;
	u64 restarts;
	u64 call_timeouts;
	u64 evq_overflows;
};

/**
 * struct vbus_pci_bridge - one ivshmem-doorbell device driven as a bridge
 * @pdev: the PCI device
 * @index: bridge number, used in device names
 * @regs: BAR0 mapping (ivshmem registers)
 * @region: BAR2 mapping, write-back (the shared region)
 * @region_size: bytes in @region (validated: equals the header's)
 * @shdr: the bridge header inside @region (shared, not trusted)
 * @host_features: validated copy of host_features
 * @peer_id: validated host_peer_id
 * @num_vectors: validated num_vectors
 * @devtab_slots: validated devtab_slots
 * @evq_entries: validated evq_entries
 * @call_slots: validated call_slots (capped at VBUS_PCI_MAX_CALLS)
 * @tables_end: first byte after the fixed tables; device areas follow
 * @devtab: device table inside @region
 * @evq: event queue header inside @region
 * @events: event ring inside @region
 * @calls_shm: call slots inside @region
 * @lock: see "Locking" at the top of the file
 * @state: enum vbus_pci_link, under @lock
 * @removing: the PCI device is being removed: queue no more work
 * @epoch: host_epoch written to guest_epoch in the last handshake
 * @evq_next: number of the next event to consume
 * @evq_overflows: last overflows value seen
 * @devs: slot -> device, written under @link_lock and @lock
 * @calls: guest-private call slot state
 * @call_sem: counts call slots in state FREE
 * @link_lock: see "Locking"
 * @link_wait: the handshake waits here for the host
 * @wq: ordered workqueue for @link_work and @dev_work
 * @link_work: tear the devices down and run the handshake again
 * @dev_work: rescan the device table, deliver config changes
 * @evq_work: continue event processing after the interrupt's budget
 * @rescan: a device table change is waiting for @dev_work
 * @stats: counters, under @lock
 * @stage: what probe has set up (enum vbus_pci_stage, vbus_pci_link.c)
 */
struct vbus_pci_bridge {
	struct pci_dev *pdev;
	int index;
	void __iomem *regs;
	u8 *region;
	u64 region_size;
	struct vbus_bridge_header *shdr;
	u64 host_features;
	u32 peer_id;
	u32 num_vectors;
	u32 devtab_slots;
	u32 evq_entries;
	u32 call_slots;
	u64 tables_end;
	struct vbus_dev_desc *devtab;
	struct vbus_evq_header *evq;
	struct vbus_event *events;
	struct vbus_call_slot *calls_shm;

	spinlock_t lock;	/* interrupt-side state, see "Locking" */
	int state;
	bool removing;
	u32 epoch;
	u32 evq_next;
	u32 evq_overflows;
	struct vbus_device **devs;
	struct vbus_pci_call *calls;
	struct semaphore call_sem;

	struct mutex link_lock;	/* link restarts, device add/remove */
	wait_queue_head_t link_wait;
	struct workqueue_struct *wq;
	struct work_struct link_work;
	struct work_struct dev_work;
	struct work_struct evq_work;
	atomic_t rescan;
	struct vbus_pci_stats stats;
	int stage;
};

/* [off, off + len) inside [0, size), without overflow */
static inline bool vbus_pci_range_ok(u64 off, u64 len, u64 size)
{
	return len <= size && off <= size - len;
}

static inline void vbus_pci_doorbell(struct vbus_pci_bridge *b, u32 vector)
{
	writel((b->peer_id << 16) | (vector & 0xffff),
	       b->regs + VBUS_PCI_DOORBELL);
}

/* vbus_pci_link.c */
void vbus_pci_schedule_restart(struct vbus_pci_bridge *b);
void vbus_pci_queue_dev_work(struct vbus_pci_bridge *b);
void vbus_pci_fault(struct vbus_pci_bridge *b, const char *why, u32 value);

/* vbus_bus.c */
int vbus_bus_register(void);
void vbus_bus_unregister(void);
struct vbus_device *vbus_pci_find(struct vbus_pci_bridge *b, u32 id);
void vbus_pci_rescan(struct vbus_pci_bridge *b);
void vbus_pci_dev_remove_all(struct vbus_pci_bridge *b);
void vbus_pci_dev_work(struct work_struct *work);

/* vbus_evq.c */
void vbus_pci_evq_reset(struct vbus_pci_bridge *b);
void vbus_pci_evq_arm(struct vbus_pci_bridge *b);
bool vbus_pci_evq_service(struct vbus_pci_bridge *b);
void vbus_pci_evq_work(struct work_struct *work);

/* vbus_call.c */
int vbus_pci_call_init(struct vbus_pci_bridge *b);
void vbus_pci_call_free(struct vbus_pci_bridge *b);
void vbus_pci_call_reset(struct vbus_pci_bridge *b);
void vbus_pci_call_check(struct vbus_pci_bridge *b, u32 i);
void vbus_pci_call_fail_all(struct vbus_pci_bridge *b);

#endif /* _VBUS_PCI_H */
