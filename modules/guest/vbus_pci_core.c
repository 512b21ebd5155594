// SPDX-License-Identifier: GPL-2.0
/*
 * AlacrityVM vbus_pci: the vbus bridge on QEMU's ivshmem-doorbell device.
 *
 * BAR0 holds the ivshmem registers (the doorbell at offset 12), BAR2 the
 * shared region laid out by the host (<linux/vbus.h>, docs/abi.md).  This
 * driver validates the region, runs the bridge state machine, consumes the
 * event queue on MSI-X vector 0, runs the call channel and puts every
 * device of the device table on the "vbus" bus for the class drivers.
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
#include <linux/completion.h>
#include <linux/delay.h>
#include <linux/idr.h>
#include <linux/interrupt.h>
#include <linux/io.h>
#include <linux/jiffies.h>
#include <linux/log2.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/pci.h>
#include <linux/semaphore.h>
#include <linux/slab.h>
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

static unsigned int handshake_timeout_ms = 5000;
module_param(handshake_timeout_ms, uint, 0644);
MODULE_PARM_DESC(handshake_timeout_ms,
		 "How long probe waits for the host to reach RUN (ms)");

static unsigned int call_timeout_ms = 5000;
module_param(call_timeout_ms, uint, 0644);
MODULE_PARM_DESC(call_timeout_ms, "Call channel timeout (ms)");

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
};

static DEFINE_IDA(vbus_pci_ida);
static struct bus_type vbus_bus_type;

/* --- helpers ------------------------------------------------------------ */

/* [off, off + len) inside [0, size), without overflow */
static bool vbus_pci_range_ok(u64 off, u64 len, u64 size)
{
	return len <= size && off <= size - len;
}

static void vbus_pci_doorbell(struct vbus_pci_bridge *b, u32 vector)
{
	writel((b->peer_id << 16) | (vector & 0xffff),
	       b->regs + VBUS_PCI_DOORBELL);
}

/* Caller holds b->lock.  Stop using the region and restart the link. */
static void vbus_pci_schedule_restart(struct vbus_pci_bridge *b)
{
	if (b->state == VBUS_PCI_LINK_DEAD)
		return;
	b->state = VBUS_PCI_LINK_DOWN;	/* calls now fail fast */
	if (!b->removing)
		queue_work(b->wq, &b->link_work);
}

/* Caller holds b->lock.  Let dev_work rescan and deliver config changes. */
static void vbus_pci_queue_dev_work(struct vbus_pci_bridge *b)
{
	if (!b->removing)
		queue_work(b->wq, &b->dev_work);
}

/* Caller holds b->lock.  The host broke the protocol. */
static void vbus_pci_fault(struct vbus_pci_bridge *b, const char *why,
			   u32 value)
{
	b->stats.faults++;
	dev_err_ratelimited(&b->pdev->dev,
			    "host protocol violation: %s (%u); resetting the bridge\n",
			    why, value);
	vbus_pci_schedule_restart(b);
}

/* Caller holds b->lock.  Device with @id, or NULL. */
static struct vbus_device *vbus_pci_find(struct vbus_pci_bridge *b, u32 id)
{
	u32 i;

	for (i = 0; i < b->devtab_slots; i++)
		if (b->devs[i] && b->devs[i]->id == id)
			return b->devs[i];
	return NULL;
}

/* --- call channel ------------------------------------------------------- */

/*
 * Caller holds b->lock.  If slot @i has its response, copy it and finish
 * the call.  Runs for VBUS_EV_CALL_DONE and from the waiter's own polling,
 * so a lost event only delays a call.
 */
static void vbus_pci_call_check(struct vbus_pci_bridge *b, u32 i)
{
	struct vbus_pci_call *c = &b->calls[i];
	struct vbus_call_slot *s = &b->calls_shm[i];
	u32 resp_seq, status, len;

	if (c->state != VBUS_PCI_CALL_INFLIGHT &&
	    c->state != VBUS_PCI_CALL_ABANDONED)
		return;
	/* Read resp_seq before the response; pairs with the host's release
	 * store of resp_seq after it wrote status and data.
	 */
	resp_seq = le32_to_cpu(smp_load_acquire(&s->resp_seq));
	if (resp_seq != c->seq)
		return;

	if (c->state == VBUS_PCI_CALL_ABANDONED) {
		c->state = VBUS_PCI_CALL_FREE;
		up(&b->call_sem);
		return;
	}
	status = le32_to_cpu(READ_ONCE(s->status));
	len = le32_to_cpu(READ_ONCE(s->resp_len));
	if (status > MAX_ERRNO || len > VBUS_CALL_DATA_SIZE) {
		c->status = -EPROTO;
		c->resp_len = 0;
		vbus_pci_fault(b, "call response", status);
	} else {
		c->status = -(int)status;
		c->resp_len = len;
		memcpy(c->resp, s->resp_data, len);
	}
	c->state = VBUS_PCI_CALL_DONE;
	complete(&c->done);
}

/* Caller holds b->lock.  The link is gone: finish every call. */
static void vbus_pci_call_fail_all(struct vbus_pci_bridge *b)
{
	u32 i;

	for (i = 0; i < b->call_slots; i++) {
		struct vbus_pci_call *c = &b->calls[i];

		if (c->state == VBUS_PCI_CALL_INFLIGHT) {
			c->status = -ENOTCONN;
			c->resp_len = 0;
			c->state = VBUS_PCI_CALL_DONE;
			complete(&c->done);
		} else if (c->state == VBUS_PCI_CALL_ABANDONED) {
			c->state = VBUS_PCI_CALL_FREE;
			up(&b->call_sem);
		}
	}
}

static int vbus_pci_call(struct vbus_pci_bridge *b, u32 dev_id, u32 op,
			 const void *req, size_t req_len, void *resp,
			 size_t *resp_len)
{
	unsigned long deadline = jiffies + msecs_to_jiffies(call_timeout_ms);
	struct vbus_pci_call *c = NULL;
	struct vbus_call_slot *s;
	int ret;
	u32 i;

	if (req_len > VBUS_CALL_DATA_SIZE)
		return -EINVAL;
	if (down_timeout(&b->call_sem, msecs_to_jiffies(call_timeout_ms))) {
		dev_err_ratelimited(&b->pdev->dev,
				    "call %#x dev %u: no free call slot in %u ms\n",
				    op, dev_id, call_timeout_ms);
		return -ETIMEDOUT;
	}

	spin_lock_irq(&b->lock);
	if (b->state != VBUS_PCI_LINK_RUN) {
		spin_unlock_irq(&b->lock);
		up(&b->call_sem);
		return -ENOTCONN;
	}
	for (i = 0; i < b->call_slots; i++) {
		if (b->calls[i].state == VBUS_PCI_CALL_FREE) {
			c = &b->calls[i];
			break;
		}
	}
	if (!c) {	/* cannot happen: the semaphore counts free slots */
		spin_unlock_irq(&b->lock);
		up(&b->call_sem);
		return -EBUSY;
	}
	s = &b->calls_shm[i];
	c->state = VBUS_PCI_CALL_INFLIGHT;
	c->seq++;
	reinit_completion(&c->done);
	WRITE_ONCE(s->op, cpu_to_le32(op));
	WRITE_ONCE(s->dev_id, cpu_to_le32(dev_id));
	WRITE_ONCE(s->req_len, cpu_to_le32(req_len));
	memset(s->req_data, 0, sizeof(s->req_data));
	if (req_len)
		memcpy(s->req_data, req, req_len);
	/* Publish the request before req_seq; pairs with the host's acquire
	 * load of req_seq before it copies the request half.
	 */
	smp_store_release(&s->req_seq, cpu_to_le32(c->seq));
	b->stats.doorbells++;
	spin_unlock_irq(&b->lock);
	vbus_pci_doorbell(b, VBUS_BRIDGE_VECTOR);

	for (;;) {
		wait_for_completion_timeout(&c->done, VBUS_PCI_POLL_SLICE);
		spin_lock_irq(&b->lock);
		vbus_pci_call_check(b, i);
		if (c->state == VBUS_PCI_CALL_DONE)
			break;
		if (time_after(jiffies, deadline)) {
			c->state = VBUS_PCI_CALL_ABANDONED;
			b->stats.call_timeouts++;
			spin_unlock_irq(&b->lock);
			dev_err_ratelimited(&b->pdev->dev,
					    "call %#x dev %u: no answer from the host in %u ms\n",
					    op, dev_id, call_timeout_ms);
			return -ETIMEDOUT;
		}
		spin_unlock_irq(&b->lock);
	}
	ret = c->status;
	if (!ret && resp && resp_len) {
		*resp_len = min_t(size_t, *resp_len, c->resp_len);
		memcpy(resp, c->resp, *resp_len);
	} else if (resp_len) {
		*resp_len = 0;
	}
	c->state = VBUS_PCI_CALL_FREE;
	spin_unlock_irq(&b->lock);
	up(&b->call_sem);
	return ret;
}

/* --- event queue -------------------------------------------------------- */

/* Caller holds b->lock.  Events may have been lost: service everything. */
static void vbus_pci_evq_overflow(struct vbus_pci_bridge *b)
{
	u32 i, q;

	b->stats.evq_overflows++;
	dev_warn_ratelimited(&b->pdev->dev,
			     "event queue overflow: rescanning every device\n");
	for (i = 0; i < b->call_slots; i++)
		vbus_pci_call_check(b, i);
	for (i = 0; i < b->devtab_slots; i++) {
		struct vbus_device *vdev = b->devs[i];

		if (!vdev)
			continue;
		atomic_set(&vdev->config_pending, 1);
		for (q = 0; q < vdev->num_queues; q++)
			if (vdev->handlers[q])
				vdev->handlers[q](vdev, q,
						  vdev->handler_priv[q]);
	}
	atomic_set(&b->rescan, 1);
	vbus_pci_queue_dev_work(b);
}

/* Caller holds b->lock.  Act on one event (a private copy). */
static void vbus_pci_evq_dispatch(struct vbus_pci_bridge *b, u16 type,
				  u32 dev_id, u32 data)
{
	struct vbus_device *vdev;

	switch (type) {
	case VBUS_EV_SIGNAL:
		vdev = vbus_pci_find(b, dev_id);
		if (!vdev)
			return;	/* device being removed: nothing to wake */
		if (data >= vdev->num_queues) {
			vbus_pci_fault(b, "signal event queue index", data);
			return;
		}
		b->stats.signals++;
		if (vdev->handlers[data])
			vdev->handlers[data](vdev, data, vdev->handler_priv[data]);
		return;
	case VBUS_EV_CALL_DONE:
		if (data >= b->call_slots) {
			vbus_pci_fault(b, "call-done event slot", data);
			return;
		}
		vbus_pci_call_check(b, data);
		return;
	case VBUS_EV_DEV_ADD:
	case VBUS_EV_DEV_REMOVE:
		atomic_set(&b->rescan, 1);
		vbus_pci_queue_dev_work(b);
		return;
	case VBUS_EV_DEV_CONFIG:
		vdev = vbus_pci_find(b, dev_id);
		if (vdev) {
			atomic_set(&vdev->config_pending, 1);
			vbus_pci_queue_dev_work(b);
		}
		return;
	default:
		vbus_pci_fault(b, "unknown event type", type);
	}
}

/*
 * Caller holds b->lock and the link is RUN.  Consume at most *budget
 * events.  Return: false on a fault (a restart is queued), true otherwise.
 */
static bool vbus_pci_evq_drain(struct vbus_pci_bridge *b, u32 *budget)
{
	u32 mask = b->evq_entries - 1;
	u32 overflows, n = 0;

	overflows = le32_to_cpu(READ_ONCE(b->evq->overflows));
	if (overflows != b->evq_overflows) {
		b->evq_overflows = overflows;
		vbus_pci_evq_overflow(b);
	}

	while (*budget) {
		u32 e = b->evq_next;
		struct vbus_event *ev = &b->events[e & mask];
		u32 seq, dev_id, data;
		u16 type;

		/* Read seq before the body; pairs with the host's release
		 * store of seq after it wrote the body.
		 */
		seq = le32_to_cpu(smp_load_acquire(&ev->seq));
		if (seq != e + 1) {
			if (seq == e + 1 - b->evq_entries ||
			    (seq == 0 && e < b->evq_entries))
				break;	/* not written yet */
			vbus_pci_fault(b, "event sequence", seq);
			return false;
		}
		type = le16_to_cpu(READ_ONCE(ev->type));
		dev_id = le32_to_cpu(READ_ONCE(ev->dev_id));
		data = le32_to_cpu(READ_ONCE(ev->data));
		b->evq_next = e + 1;
		(*budget)--;
		n++;
		b->stats.events++;
		vbus_pci_evq_dispatch(b, type, dev_id, data);
		if (b->state != VBUS_PCI_LINK_RUN)
			return false;
	}
	if (n)
		/* Finish reading the entries before giving them back; pairs
		 * with the host's acquire load of consumed before it reuses
		 * a slot.
		 */
		smp_store_release(&b->evq->consumed, cpu_to_le32(b->evq_next));
	return true;
}

/*
 * Caller holds b->lock.  The shm-signal receiver loop over the event
 * queue.  Return: true when the budget ran out with work left (the caller
 * defers to b->evq_work; pending stays set so the host sends no more
 * interrupts meanwhile).
 */
static bool vbus_pci_evq_service(struct vbus_pci_bridge *b)
{
	struct vbus_shm_signal *sig = &b->evq->signal;
	u32 budget = VBUS_PCI_EVQ_BUDGET;

	if (b->state != VBUS_PCI_LINK_RUN)
		return false;
	do {
		vbus_shm_signal_begin(sig);
		if (!vbus_pci_evq_drain(b, &budget))
			return false;
		if (!budget)
			return true;
	} while (vbus_shm_signal_again(sig));
	return false;
}

static void vbus_pci_evq_work(struct work_struct *work)
{
	struct vbus_pci_bridge *b = container_of(work, struct vbus_pci_bridge,
						 evq_work);
	bool more;

	spin_lock_irq(&b->lock);
	more = vbus_pci_evq_service(b);
	if (more && !b->removing)
		queue_work(system_highpri_wq, &b->evq_work);
	spin_unlock_irq(&b->lock);
}

/* Caller holds b->lock.  Has the host left the link we set up? */
static bool vbus_pci_host_left(struct vbus_pci_bridge *b)
{
	u32 state = le32_to_cpu(READ_ONCE(b->shdr->host_state));
	u32 epoch = le32_to_cpu(READ_ONCE(b->shdr->host_epoch));

	return state != VBUS_STATE_RUN || epoch != b->epoch;
}

static irqreturn_t vbus_pci_irq(int irq, void *data)
{
	struct vbus_pci_bridge *b = data;

	spin_lock(&b->lock);
	b->stats.irqs++;
	switch (b->state) {
	case VBUS_PCI_LINK_RUN:
		if (vbus_pci_host_left(b)) {
			dev_info_ratelimited(&b->pdev->dev,
					     "host left the link: restarting\n");
			vbus_pci_schedule_restart(b);
		} else if (vbus_pci_evq_service(b) && !b->removing) {
			queue_work(system_highpri_wq, &b->evq_work);
		}
		break;
	case VBUS_PCI_LINK_INIT:
		wake_up(&b->link_wait);
		break;
	case VBUS_PCI_LINK_WAIT:
		vbus_pci_schedule_restart(b);
		break;
	default:
		break;
	}
	spin_unlock(&b->lock);
	return IRQ_HANDLED;
}

/* --- devices ------------------------------------------------------------ */

static void vbus_pci_dev_release(struct device *dev)
{
	struct vbus_device *vdev = to_vbus_device(dev);

	kfree(vdev->handler_priv);
	kfree(vdev->handlers);
	kfree(vdev->queues);
	kfree(vdev);
}

/* Check a queue descriptor (private copy) against its device area. */
static const char *vbus_pci_check_queue(const struct vbus_queue_desc *q,
					u64 area_size)
{
	u32 num = le32_to_cpu(q->num_entries);
	u32 buf_size = le32_to_cpu(q->buf_size);
	u32 submit = le32_to_cpu(q->submit_offset);
	u32 used = le32_to_cpu(q->used_offset);
	u32 to_host = le32_to_cpu(q->to_host_offset);
	u32 to_guest = le32_to_cpu(q->to_guest_offset);
	u32 pool = le32_to_cpu(q->pool_offset);
	u64 pool_size = le32_to_cpu(q->pool_size);

	if (!num || !is_power_of_2(num) || num > VBUS_RING_MAX_ENTRIES)
		return "ring size";
	if (!buf_size)
		return "buffer size";
	if (!IS_ALIGNED(submit, sizeof(struct vbus_ring_desc)) ||
	    !vbus_pci_range_ok(submit, (u64)num * sizeof(struct vbus_ring_desc),
			       area_size))
		return "submit ring";
	if (!IS_ALIGNED(used, sizeof(struct vbus_ring_used)) ||
	    !vbus_pci_range_ok(used, (u64)num * sizeof(struct vbus_ring_used),
			       area_size))
		return "used ring";
	if (!IS_ALIGNED(to_host, sizeof(u32)) || !IS_ALIGNED(to_guest, sizeof(u32)) ||
	    !vbus_pci_range_ok(to_host, sizeof(struct vbus_shm_signal), area_size) ||
	    !vbus_pci_range_ok(to_guest, sizeof(struct vbus_shm_signal), area_size))
		return "signals";
	if (pool_size != (u64)num * buf_size ||
	    !vbus_pci_range_ok(pool, pool_size, area_size))
		return "buffer pool";
	return NULL;
}

/* Check a device table slot (private copy) against the region. */
static const char *vbus_pci_check_slot(struct vbus_pci_bridge *b,
				       const struct vbus_dev_desc *d)
{
	u64 area_off = le64_to_cpu(d->area_offset);
	u64 area_size = le64_to_cpu(d->area_size);
	u32 nq = le32_to_cpu(d->num_queues);
	u32 vector = le32_to_cpu(d->doorbell_vector);

	if (!le32_to_cpu(d->id))
		return "id 0";
	if (area_off < b->tables_end || !IS_ALIGNED(area_off, VBUS_CACHELINE) ||
	    !vbus_pci_range_ok(area_off, area_size, b->region_size))
		return "device area";
	if (!vbus_pci_range_ok(le32_to_cpu(d->config_offset),
			       le32_to_cpu(d->config_size), area_size))
		return "config";
	if (nq > VBUS_DEV_MAX_QUEUES ||
	    !vbus_pci_range_ok(le32_to_cpu(d->queues_offset),
			       (u64)nq * sizeof(struct vbus_queue_desc),
			       area_size))
		return "queue table";
	/* QEMU 7.2 decodes only 8 vector bits of the doorbell */
	if (vector >= b->num_vectors || vector > 0xff)
		return "doorbell vector";
	return NULL;
}

/* Caller holds b->link_lock.  Put the device of slot @slot on the bus. */
static void vbus_pci_dev_add(struct vbus_pci_bridge *b, u32 slot)
{
	struct vbus_dev_desc *shared = &b->devtab[slot];
	struct vbus_dev_desc d;
	struct vbus_device *vdev;
	const char *bad;
	u64 area_size;
	u32 q, nq;
	int err;

	/* Read state before the rest of the slot; pairs with the host's
	 * release store of state = PRESENT after it filled the slot.
	 */
	if (le32_to_cpu(smp_load_acquire(&shared->state)) != VBUS_DEV_PRESENT)
		return;
	memcpy(&d, shared, sizeof(d));
	bad = vbus_pci_check_slot(b, &d);
	spin_lock_irq(&b->lock);
	if (!bad && vbus_pci_find(b, le32_to_cpu(d.id)))
		bad = "duplicate id";
	spin_unlock_irq(&b->lock);
	if (bad)
		goto bad_slot;

	vdev = kzalloc(sizeof(*vdev), GFP_KERNEL);
	if (!vdev)
		return;
	nq = le32_to_cpu(d.num_queues);
	area_size = le64_to_cpu(d.area_size);
	vdev->bridge = b;
	vdev->id = le32_to_cpu(d.id);
	vdev->type = le32_to_cpu(d.type);
	vdev->abi_version = le32_to_cpu(d.abi_version);
	vdev->slot = slot;
	vdev->doorbell_vector = le32_to_cpu(d.doorbell_vector);
	vdev->num_queues = nq;
	vdev->area = b->region + le64_to_cpu(d.area_offset);
	vdev->area_size = area_size;
	vdev->config_offset = le32_to_cpu(d.config_offset);
	vdev->config_size = le32_to_cpu(d.config_size);
	atomic_set(&vdev->config_pending, 0);
	vdev->queues = kcalloc(max(nq, 1U), sizeof(*vdev->queues), GFP_KERNEL);
	vdev->handlers = kcalloc(max(nq, 1U), sizeof(*vdev->handlers),
				 GFP_KERNEL);
	vdev->handler_priv = kcalloc(max(nq, 1U), sizeof(*vdev->handler_priv),
				     GFP_KERNEL);
	vdev->dev.bus = &vbus_bus_type;
	vdev->dev.parent = &b->pdev->dev;
	vdev->dev.release = vbus_pci_dev_release;
	device_initialize(&vdev->dev);
	if (!vdev->queues || !vdev->handlers || !vdev->handler_priv)
		goto put;

	memcpy(vdev->queues,
	       (u8 *)vdev->area + le32_to_cpu(d.queues_offset),
	       nq * sizeof(*vdev->queues));
	for (q = 0; q < nq; q++) {
		bad = vbus_pci_check_queue(&vdev->queues[q], area_size);
		if (bad) {
			put_device(&vdev->dev);
			goto bad_slot;
		}
	}

	err = dev_set_name(&vdev->dev, "vbus%d-%u", b->index, vdev->id);
	if (err)
		goto put;
	spin_lock_irq(&b->lock);
	b->devs[slot] = vdev;
	spin_unlock_irq(&b->lock);
	err = device_add(&vdev->dev);
	if (err) {
		dev_err(&b->pdev->dev, "device %u: device_add failed: %d\n",
			vdev->id, err);
		spin_lock_irq(&b->lock);
		b->devs[slot] = NULL;
		spin_unlock_irq(&b->lock);
		goto put;
	}
	dev_dbg(&b->pdev->dev, "device %u (type %u) in slot %u\n",
		vdev->id, vdev->type, slot);
	return;

put:
	put_device(&vdev->dev);
	return;
bad_slot:
	spin_lock_irq(&b->lock);
	b->stats.faults++;
	spin_unlock_irq(&b->lock);
	dev_err_ratelimited(&b->pdev->dev,
			    "device table slot %u rejected: bad %s\n", slot, bad);
}

/* Caller holds b->link_lock.  Unbind and drop the device of @slot. */
static void vbus_pci_dev_remove(struct vbus_pci_bridge *b, u32 slot)
{
	struct vbus_device *vdev = b->devs[slot];

	if (!vdev)
		return;
	device_del(&vdev->dev);	/* the driver's remove runs here */
	spin_lock_irq(&b->lock);
	b->devs[slot] = NULL;
	memset(vdev->handlers, 0, vdev->num_queues * sizeof(*vdev->handlers));
	spin_unlock_irq(&b->lock);
	vbus_dev_close(vdev);	/* in case the driver left it open */
	put_device(&vdev->dev);
}

static void vbus_pci_dev_remove_all(struct vbus_pci_bridge *b)
{
	u32 i;

	for (i = 0; i < b->devtab_slots; i++)
		vbus_pci_dev_remove(b, i);
}

/* Caller holds b->link_lock.  Match the bus to the device table. */
static void vbus_pci_rescan(struct vbus_pci_bridge *b)
{
	u32 i;

	for (i = 0; i < b->devtab_slots; i++) {
		struct vbus_dev_desc *d = &b->devtab[i];
		struct vbus_device *vdev = b->devs[i];
		u32 state, id;

		/* Read state before id; pairs with the host's release store
		 * of state.
		 */
		state = le32_to_cpu(smp_load_acquire(&d->state));
		id = le32_to_cpu(READ_ONCE(d->id));
		if (vdev && (state != VBUS_DEV_PRESENT || id != vdev->id))
			vbus_pci_dev_remove(b, i);
		if (!b->devs[i] && state == VBUS_DEV_PRESENT)
			vbus_pci_dev_add(b, i);
	}
}

/* Deliver pending config changes to the bound drivers. */
static void vbus_pci_deliver_config(struct vbus_pci_bridge *b)
{
	u32 i;

	for (i = 0; i < b->devtab_slots; i++) {
		struct vbus_device *vdev = b->devs[i];
		struct vbus_driver *drv;

		if (!vdev || !atomic_xchg(&vdev->config_pending, 0))
			continue;
		device_lock(&vdev->dev);
		if (vdev->dev.driver) {
			drv = to_vbus_driver(vdev->dev.driver);
			if (drv->config_changed)
				drv->config_changed(vdev);
		}
		device_unlock(&vdev->dev);
	}
}

static void vbus_pci_dev_work(struct work_struct *work)
{
	struct vbus_pci_bridge *b = container_of(work, struct vbus_pci_bridge,
						 dev_work);
	bool run;

	mutex_lock(&b->link_lock);
	spin_lock_irq(&b->lock);
	run = b->state == VBUS_PCI_LINK_RUN && !b->removing;
	spin_unlock_irq(&b->lock);
	if (run) {
		if (atomic_xchg(&b->rescan, 0))
			vbus_pci_rescan(b);
		vbus_pci_deliver_config(b);
	}
	mutex_unlock(&b->link_lock);
}

/* --- bridge state machine ----------------------------------------------- */

/* Host status during the handshake: 1 RUN, -EAGAIN new epoch, 0 wait. */
static int vbus_pci_host_status(struct vbus_pci_bridge *b)
{
	/* Read host_state before what the host set up for RUN; pairs with
	 * the host's release store of host_state.
	 */
	u32 state = le32_to_cpu(smp_load_acquire(&b->shdr->host_state));
	u32 epoch = le32_to_cpu(READ_ONCE(b->shdr->host_epoch));

	if (epoch != b->epoch)
		return -EAGAIN;
	return state == VBUS_STATE_RUN;
}

static void vbus_pci_set_guest_state(struct vbus_pci_bridge *b, u32 state)
{
	/* Publish guest_epoch and guest_features before guest_state; pairs
	 * with the host's acquire load of guest_state on vector 0.
	 */
	smp_store_release(&b->shdr->guest_state, cpu_to_le32(state));
	spin_lock_irq(&b->lock);
	b->stats.doorbells++;
	spin_unlock_irq(&b->lock);
	vbus_pci_doorbell(b, VBUS_BRIDGE_VECTOR);
}

/*
 * Caller holds b->link_lock.  Steps 2-4 of the handshake in docs/abi.md.
 * If the host is still RUN (a guest-side restart), first take it out of
 * RUN with guest_state = RESET: otherwise its RUN could be the old one and
 * the guest could not tell whether the host has reset the queues yet.
 */
static int vbus_pci_handshake(struct vbus_pci_bridge *b)
{
	unsigned long deadline = jiffies +
				 msecs_to_jiffies(handshake_timeout_ms);
	u32 host_state;
	int r;

restart:
	spin_lock_irq(&b->lock);
	b->epoch = le32_to_cpu(READ_ONCE(b->shdr->host_epoch));
	b->state = VBUS_PCI_LINK_INIT;
	spin_unlock_irq(&b->lock);

	host_state = le32_to_cpu(READ_ONCE(b->shdr->host_state));
	if (host_state == VBUS_STATE_RUN) {
		vbus_pci_set_guest_state(b, VBUS_STATE_RESET);
		while (vbus_pci_host_status(b) == 1) {
			wait_event_timeout(b->link_wait,
					   vbus_pci_host_status(b) != 1,
					   VBUS_PCI_POLL_SLICE);
			if (time_after(jiffies, deadline))
				return -ETIMEDOUT;
		}
		goto restart;
	}

	WRITE_ONCE(b->shdr->guest_features,
		   cpu_to_le64(b->host_features & VBUS_PCI_FEATURES));
	WRITE_ONCE(b->shdr->guest_epoch, cpu_to_le32(b->epoch));
	vbus_pci_set_guest_state(b, VBUS_STATE_INIT);

	for (;;) {
		wait_event_timeout(b->link_wait, vbus_pci_host_status(b) != 0,
				   VBUS_PCI_POLL_SLICE);
		r = vbus_pci_host_status(b);
		if (r == 1)
			return 0;
		if (time_after(jiffies, deadline))
			return -ETIMEDOUT;
		if (r == -EAGAIN)
			goto restart;	/* the host restarted meanwhile */
	}
}

/* Caller holds b->link_lock.  Host is RUN: bring the guest side up. */
static void vbus_pci_link_up(struct vbus_pci_bridge *b)
{
	bool more;
	u32 i;

	spin_lock_irq(&b->lock);
	/* The host reset the event queue and the call channel on INIT */
	b->evq_next = 0;
	b->evq_overflows = le32_to_cpu(READ_ONCE(b->evq->overflows));
	for (i = 0; i < b->call_slots; i++)
		b->calls[i].seq = 0;
	b->state = VBUS_PCI_LINK_RUN;
	b->stats.restarts++;
	spin_unlock_irq(&b->lock);

	vbus_pci_set_guest_state(b, VBUS_STATE_RUN);

	spin_lock_irq(&b->lock);
	/* Arm the event queue; its final re-check is the service below */
	vbus_shm_signal_enable(&b->evq->signal);
	more = vbus_pci_evq_service(b);
	if (more)
		queue_work(system_highpri_wq, &b->evq_work);
	spin_unlock_irq(&b->lock);

	dev_info(&b->pdev->dev, "link up (host epoch %u, features %#llx)\n",
		 b->epoch, le64_to_cpu(READ_ONCE(b->shdr->features)));
	atomic_set(&b->rescan, 0);
	vbus_pci_rescan(b);
}

/* Caller holds b->link_lock.  Take every device down, fail every call. */
static void vbus_pci_link_down(struct vbus_pci_bridge *b)
{
	spin_lock_irq(&b->lock);
	if (b->state != VBUS_PCI_LINK_DEAD)
		b->state = VBUS_PCI_LINK_DOWN;
	vbus_pci_call_fail_all(b);
	spin_unlock_irq(&b->lock);
	vbus_pci_dev_remove_all(b);
}

/* Caller holds b->link_lock.  (Re)start the link from step 2. */
static void vbus_pci_link_restart(struct vbus_pci_bridge *b)
{
	int err;

	vbus_pci_link_down(b);
	if (READ_ONCE(b->removing))
		return;
	err = vbus_pci_handshake(b);
	if (!err) {
		vbus_pci_link_up(b);
		return;
	}
	spin_lock_irq(&b->lock);
	if (b->state == VBUS_PCI_LINK_INIT)
		b->state = VBUS_PCI_LINK_WAIT;
	spin_unlock_irq(&b->lock);
	dev_info(&b->pdev->dev,
		 "host not ready after %u ms (host state %u): waiting for it\n",
		 handshake_timeout_ms,
		 le32_to_cpu(READ_ONCE(b->shdr->host_state)));
}

static void vbus_pci_link_work(struct work_struct *work)
{
	struct vbus_pci_bridge *b = container_of(work, struct vbus_pci_bridge,
						 link_work);

	mutex_lock(&b->link_lock);
	vbus_pci_link_restart(b);
	mutex_unlock(&b->link_lock);
}

/* --- exported API for class drivers ------------------------------------- */

/**
 * vbus_dev_read_config() - copy the device's class config
 * @vdev: the device
 * @buf: destination
 * @len: bytes wanted; at most the device's config_size
 *
 * The config lies in host-written memory and may change at any time; the
 * copy is a snapshot that the class driver validates.
 *
 * Context: any.  May run concurrently with everything.
 * Return: 0, or -EINVAL when the config is shorter than @len.
 */
int vbus_dev_read_config(struct vbus_device *vdev, void *buf, size_t len)
{
	if (len > vdev->config_size)
		return -EINVAL;
	memcpy(buf, (u8 *)vdev->area + vdev->config_offset, len);
	return 0;
}
EXPORT_SYMBOL_GPL(vbus_dev_read_config);

/**
 * vbus_dev_queue_desc() - the validated descriptor of one queue
 * @vdev: the device
 * @queue: queue index
 *
 * The descriptor is a private copy made and checked when the device was
 * added: all its offsets lie inside the device area.
 *
 * Context: any, while the driver is bound.
 * Return: the descriptor, or NULL when @queue does not exist.
 */
const struct vbus_queue_desc *vbus_dev_queue_desc(struct vbus_device *vdev,
						  u32 queue)
{
	if (queue >= vdev->num_queues)
		return NULL;
	return &vdev->queues[queue];
}
EXPORT_SYMBOL_GPL(vbus_dev_queue_desc);

/**
 * vbus_dev_open() - ask the host to start serving the device's queues
 * @vdev: the device
 *
 * Sends VBUS_CALL_DEV_OPEN.  Set up the rings (vbus_ring_init()) first.
 *
 * Context: process context (sleeps); the bound driver, serialized with
 * vbus_dev_close() by the driver (normally probe and remove).
 * Return: 0 or -errno (-ENOTCONN without link, -ETIMEDOUT, host status).
 */
int vbus_dev_open(struct vbus_device *vdev)
{
	int err;

	err = vbus_pci_call(vdev->bridge, vdev->id, VBUS_CALL_DEV_OPEN,
			    NULL, 0, NULL, NULL);
	if (!err)
		vdev->opened = true;
	return err;
}
EXPORT_SYMBOL_GPL(vbus_dev_open);

/**
 * vbus_dev_close() - tell the host to stop serving the device
 * @vdev: the device
 *
 * Sends VBUS_CALL_DEV_CLOSE if the device is open; this also acknowledges
 * a removal.  Errors (no link, timeout) are ignored: the device is closed
 * from the guest's point of view either way.  The bus calls it after the
 * driver's remove if the driver did not.
 *
 * Context: process context (sleeps); serialized with vbus_dev_open() by
 * the caller.
 */
void vbus_dev_close(struct vbus_device *vdev)
{
	if (!vdev->opened)
		return;
	vdev->opened = false;
	vbus_pci_call(vdev->bridge, vdev->id, VBUS_CALL_DEV_CLOSE, NULL, 0,
		      NULL, NULL);
}
EXPORT_SYMBOL_GPL(vbus_dev_close);

/**
 * vbus_dev_call() - a device class call on the call channel
 * @vdev: the device
 * @op: class call, at least VBUS_CALL_CLASS_BASE
 * @req: request data
 * @req_len: bytes of @req, at most VBUS_CALL_DATA_SIZE
 * @resp: response buffer, or NULL
 * @resp_len: in: size of @resp; out: bytes the host returned (may be NULL)
 *
 * Waits for the response for at most call_timeout_ms.
 *
 * Context: process context (sleeps).  Any number of callers may run
 * concurrently; they share the bridge's call slots.
 * Return: 0, -errno from the host's status, -ENOTCONN without link,
 * -ETIMEDOUT, -EINVAL for a bad @op or @req_len.
 */
int vbus_dev_call(struct vbus_device *vdev, u32 op, const void *req,
		  size_t req_len, void *resp, size_t *resp_len)
{
	if (op < VBUS_CALL_CLASS_BASE)
		return -EINVAL;
	return vbus_pci_call(vdev->bridge, vdev->id, op, req, req_len, resp,
			     resp_len);
}
EXPORT_SYMBOL_GPL(vbus_dev_call);

/**
 * vbus_dev_kick() - ring the device's doorbell
 * @vdev: the device
 *
 * Call it only when vbus_shm_signal_notify() on a queue's to_host signal
 * said so.
 *
 * Context: any (a single MMIO write).
 */
void vbus_dev_kick(struct vbus_device *vdev)
{
	vbus_pci_doorbell(vdev->bridge, vdev->doorbell_vector);
}
EXPORT_SYMBOL_GPL(vbus_dev_kick);

/**
 * vbus_dev_set_queue_handler() - register a queue's guest-bound handler
 * @vdev: the device
 * @queue: queue index
 * @handler: called for VBUS_EV_SIGNAL on @queue (see vbus_queue_handler_t)
 * @priv: passed to @handler
 *
 * Context: any but the handler itself; takes the bridge's irq lock.
 * Return: 0, or -EINVAL when @queue does not exist.
 */
int vbus_dev_set_queue_handler(struct vbus_device *vdev, u32 queue,
			       vbus_queue_handler_t handler, void *priv)
{
	struct vbus_pci_bridge *b = vdev->bridge;
	unsigned long flags;

	if (queue >= vdev->num_queues)
		return -EINVAL;
	spin_lock_irqsave(&b->lock, flags);
	vdev->handler_priv[queue] = priv;
	vdev->handlers[queue] = handler;
	spin_unlock_irqrestore(&b->lock, flags);
	return 0;
}
EXPORT_SYMBOL_GPL(vbus_dev_set_queue_handler);

/**
 * vbus_dev_clear_queue_handlers() - unregister every queue handler
 * @vdev: the device
 *
 * On return no handler of @vdev runs or will run (handlers run under the
 * lock this takes).
 *
 * Context: process context, not from a handler.
 */
void vbus_dev_clear_queue_handlers(struct vbus_device *vdev)
{
	struct vbus_pci_bridge *b = vdev->bridge;

	spin_lock_irq(&b->lock);
	memset(vdev->handlers, 0, vdev->num_queues * sizeof(*vdev->handlers));
	spin_unlock_irq(&b->lock);
}
EXPORT_SYMBOL_GPL(vbus_dev_clear_queue_handlers);

/**
 * vbus_dev_report_fault() - a class driver found the host misbehaving
 * @vdev: the device
 * @why: short description for the log
 *
 * Logs (rate-limited), counts and schedules a bridge reset, which tears
 * every device down (the driver's remove runs later, from a workqueue)
 * and runs the handshake again.
 *
 * Context: any.
 */
void vbus_dev_report_fault(struct vbus_device *vdev, const char *why)
{
	struct vbus_pci_bridge *b = vdev->bridge;
	unsigned long flags;

	spin_lock_irqsave(&b->lock, flags);
	b->stats.faults++;
	if (b->state == VBUS_PCI_LINK_RUN)
		vbus_pci_schedule_restart(b);
	spin_unlock_irqrestore(&b->lock, flags);
	dev_err_ratelimited(&vdev->dev,
			    "host protocol violation: %s; resetting the bridge\n",
			    why);
}
EXPORT_SYMBOL_GPL(vbus_dev_report_fault);

/* --- the vbus bus ------------------------------------------------------- */

static int vbus_bus_match(struct device *dev, struct device_driver *drv)
{
	return to_vbus_device(dev)->type == to_vbus_driver(drv)->type;
}

static int vbus_bus_uevent(struct device *dev, struct kobj_uevent_env *env)
{
	return add_uevent_var(env, "MODALIAS=vbus:t%08X",
			      to_vbus_device(dev)->type);
}

static int vbus_bus_probe(struct device *dev)
{
	struct vbus_driver *drv = to_vbus_driver(dev->driver);

	return drv->probe(to_vbus_device(dev));
}

static void vbus_bus_remove(struct device *dev)
{
	struct vbus_driver *drv = to_vbus_driver(dev->driver);

	if (drv->remove)
		drv->remove(to_vbus_device(dev));
}

static ssize_t id_show(struct device *dev, struct device_attribute *attr,
		       char *buf)
{
	return sysfs_emit(buf, "%u\n", to_vbus_device(dev)->id);
}
static DEVICE_ATTR_RO(id);

static ssize_t type_show(struct device *dev, struct device_attribute *attr,
			 char *buf)
{
	return sysfs_emit(buf, "%u\n", to_vbus_device(dev)->type);
}
static DEVICE_ATTR_RO(type);

static ssize_t modalias_show(struct device *dev, struct device_attribute *attr,
			     char *buf)
{
	return sysfs_emit(buf, "vbus:t%08X\n", to_vbus_device(dev)->type);
}
static DEVICE_ATTR_RO(modalias);

static struct attribute *vbus_bus_dev_attrs[] = {
	&dev_attr_id.attr,
	&dev_attr_type.attr,
	&dev_attr_modalias.attr,
	NULL,
};
ATTRIBUTE_GROUPS(vbus_bus_dev);

static struct bus_type vbus_bus_type = {
	.name = "vbus",
	.match = vbus_bus_match,
	.uevent = vbus_bus_uevent,
	.probe = vbus_bus_probe,
	.remove = vbus_bus_remove,
	.dev_groups = vbus_bus_dev_groups,
};

/**
 * __vbus_driver_register() - register a device class driver
 * @drv: the driver; @drv->type and @drv->probe must be set
 * @owner: the driver's module (use vbus_driver_register())
 *
 * Context: process context.
 * Return: 0 or -errno from driver_register().
 */
int __vbus_driver_register(struct vbus_driver *drv, struct module *owner)
{
	drv->driver.bus = &vbus_bus_type;
	drv->driver.owner = owner;
	return driver_register(&drv->driver);
}
EXPORT_SYMBOL_GPL(__vbus_driver_register);

/**
 * vbus_driver_unregister() - unregister a device class driver
 * @drv: the driver
 *
 * Unbinds every device first (the driver's remove runs).
 *
 * Context: process context.
 */
void vbus_driver_unregister(struct vbus_driver *drv)
{
	driver_unregister(&drv->driver);
}
EXPORT_SYMBOL_GPL(vbus_driver_unregister);

/* --- bridge sysfs --------------------------------------------------------- */

static ssize_t vbus_stats_show(struct device *dev,
			       struct device_attribute *attr, char *buf)
{
	struct vbus_pci_bridge *b = pci_get_drvdata(to_pci_dev(dev));
	struct vbus_pci_stats s;
	int state;

	spin_lock_irq(&b->lock);
	s = b->stats;
	state = b->state;
	spin_unlock_irq(&b->lock);
	return sysfs_emit(buf,
			  "link %d\nirqs %llu\nevents %llu\nsignals %llu\n"
			  "doorbells %llu\nfaults %llu\nrestarts %llu\n"
			  "call_timeouts %llu\nevq_overflows %llu\n",
			  state, s.irqs, s.events, s.signals, s.doorbells,
			  s.faults, s.restarts, s.call_timeouts,
			  s.evq_overflows);
}
static DEVICE_ATTR_RO(vbus_stats);

/* --- probe / remove ----------------------------------------------------- */

/*
 * Check the header copy @h against the BAR and fill the validated fields
 * of @b.  Everything the guest later derives from the header comes from
 * here.  Return: NULL or what is wrong.
 */
static const char *vbus_pci_check_header(struct vbus_pci_bridge *b,
					 const struct vbus_bridge_header *h)
{
	u64 size = b->region_size;
	u64 devtab = le32_to_cpu(h->devtab_offset);
	u64 evq = le32_to_cpu(h->evq_offset);
	u64 call = le32_to_cpu(h->call_offset);
	u64 devtab_len, evq_len, call_len;
	u32 hsize = le32_to_cpu(h->header_size);

	if (le64_to_cpu(h->region_size) != size || !is_power_of_2(size))
		return "region size";
	if (hsize < sizeof(*h) || hsize > size)
		return "header size";
	b->host_features = le64_to_cpu(h->host_features);
	b->peer_id = le32_to_cpu(h->host_peer_id);
	b->num_vectors = le32_to_cpu(h->num_vectors);
	b->devtab_slots = le32_to_cpu(h->devtab_slots);
	b->evq_entries = le32_to_cpu(h->evq_entries);
	b->call_slots = le32_to_cpu(h->call_slots);
	if (b->peer_id > 0xffff)
		return "host peer id";
	if (!b->num_vectors)
		return "number of vectors";
	if (!b->devtab_slots || b->devtab_slots > VBUS_PCI_MAX_SLOTS)
		return "device table slots";
	if (b->evq_entries < 2 || !is_power_of_2(b->evq_entries) ||
	    b->evq_entries > VBUS_PCI_MAX_EVENTS)
		return "event queue entries";
	if (!b->call_slots)
		return "call slots";
	b->call_slots = min_t(u32, b->call_slots, VBUS_PCI_MAX_CALLS);

	devtab_len = (u64)b->devtab_slots * sizeof(struct vbus_dev_desc);
	evq_len = sizeof(struct vbus_evq_header) +
		  (u64)b->evq_entries * sizeof(struct vbus_event);
	call_len = (u64)b->call_slots * sizeof(struct vbus_call_slot);
	if (devtab < hsize || !IS_ALIGNED(devtab, VBUS_CACHELINE) ||
	    !vbus_pci_range_ok(devtab, devtab_len, size))
		return "device table";
	if (evq < hsize || !IS_ALIGNED(evq, VBUS_CACHELINE) ||
	    !vbus_pci_range_ok(evq, evq_len, size))
		return "event queue";
	if (call < hsize || !IS_ALIGNED(call, VBUS_CACHELINE) ||
	    !vbus_pci_range_ok(call, call_len, size))
		return "call channel";
	b->tables_end = max3(devtab + devtab_len, evq + evq_len,
			     call + call_len);
	b->devtab = (void *)(b->region + devtab);
	b->evq = (void *)(b->region + evq);
	b->events = (void *)(b->region + evq + sizeof(struct vbus_evq_header));
	b->calls_shm = (void *)(b->region + call);
	return NULL;
}

/*
 * Map BAR2 and look for our magic and ABI.  Return: 0, -ENODEV when this
 * is somebody else's ivshmem device (nothing is left changed), -errno.
 */
static int vbus_pci_map_region(struct vbus_pci_bridge *b)
{
	struct pci_dev *pdev = b->pdev;
	struct vbus_bridge_header h;
	const char *bad;

	b->region_size = pci_resource_len(pdev, VBUS_PCI_REGION_BAR);
	if (!(pci_resource_flags(pdev, VBUS_PCI_REGION_BAR) & IORESOURCE_MEM) ||
	    b->region_size < sizeof(h)) {
		dev_info(&pdev->dev, "no shared memory BAR: not a vbus bridge\n");
		return -ENODEV;
	}
	b->region = memremap(pci_resource_start(pdev, VBUS_PCI_REGION_BAR),
			     b->region_size, MEMREMAP_WB);
	if (!b->region)
		return -ENOMEM;
	memcpy(&h, b->region, sizeof(h));
	if (le64_to_cpu(h.magic) != VBUS_MAGIC ||
	    le16_to_cpu(h.abi_major) != VBUS_ABI_MAJOR) {
		dev_info(&pdev->dev,
			 "no vbus bridge in this ivshmem region (magic %#llx, ABI %u): leaving it alone\n",
			 le64_to_cpu(h.magic), le16_to_cpu(h.abi_major));
		goto nodev;
	}
	bad = vbus_pci_check_header(b, &h);
	if (bad) {
		dev_err(&pdev->dev, "invalid vbus bridge header: bad %s\n",
			bad);
		memunmap(b->region);
		return -EINVAL;
	}
	b->shdr = (void *)b->region;
	return 0;

nodev:
	memunmap(b->region);
	return -ENODEV;
}

static int vbus_pci_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	struct vbus_pci_bridge *b;
	u32 i;
	int err;

	b = kzalloc(sizeof(*b), GFP_KERNEL);
	if (!b)
		return -ENOMEM;
	b->pdev = pdev;
	spin_lock_init(&b->lock);
	mutex_init(&b->link_lock);
	init_waitqueue_head(&b->link_wait);
	INIT_WORK(&b->link_work, vbus_pci_link_work);
	INIT_WORK(&b->dev_work, vbus_pci_dev_work);
	INIT_WORK(&b->evq_work, vbus_pci_evq_work);
	b->state = VBUS_PCI_LINK_DOWN;

	err = pci_enable_device_mem(pdev);
	if (err)
		goto err_free;
	err = vbus_pci_map_region(b);
	if (err)
		goto err_disable;

	err = pci_request_regions(pdev, KBUILD_MODNAME);
	if (err)
		goto err_unmap;
	b->regs = pci_iomap(pdev, VBUS_PCI_REGS_BAR, 0);
	if (!b->regs) {
		err = -ENOMEM;
		goto err_release;
	}

	err = -ENOMEM;
	b->devs = kcalloc(b->devtab_slots, sizeof(*b->devs), GFP_KERNEL);
	if (!b->devs)
		goto err_iounmap;
	b->calls = kcalloc(b->call_slots, sizeof(*b->calls), GFP_KERNEL);
	if (!b->calls)
		goto err_devs;
	for (i = 0; i < b->call_slots; i++)
		init_completion(&b->calls[i].done);
	sema_init(&b->call_sem, b->call_slots);

	b->index = ida_alloc(&vbus_pci_ida, GFP_KERNEL);
	if (b->index < 0) {
		err = b->index;
		goto err_calls;
	}
	b->wq = alloc_ordered_workqueue("vbus%d", 0, b->index);
	if (!b->wq)
		goto err_ida;

	pci_set_master(pdev);
	err = pci_alloc_irq_vectors(pdev, 1, 1, PCI_IRQ_MSIX);
	if (err < 0) {
		dev_err(&pdev->dev, "no MSI-X (ivshmem-doorbell needs vectors>=1): %d\n",
			err);
		goto err_wq;
	}
	err = request_irq(pci_irq_vector(pdev, VBUS_EVQ_VECTOR), vbus_pci_irq,
			  0, KBUILD_MODNAME, b);
	if (err)
		goto err_vectors;
	pci_set_drvdata(pdev, b);
	err = device_create_file(&pdev->dev, &dev_attr_vbus_stats);
	if (err)
		goto err_irq;

	dev_info(&pdev->dev,
		 "vbus bridge %d: region %llu KiB, %u device slots, %u events, %u call slots\n",
		 b->index, b->region_size >> 10, b->devtab_slots,
		 b->evq_entries, b->call_slots);
	mutex_lock(&b->link_lock);
	vbus_pci_link_restart(b);
	mutex_unlock(&b->link_lock);
	return 0;

err_irq:
	free_irq(pci_irq_vector(pdev, VBUS_EVQ_VECTOR), b);
err_vectors:
	pci_free_irq_vectors(pdev);
err_wq:
	pci_clear_master(pdev);
	destroy_workqueue(b->wq);
err_ida:
	ida_free(&vbus_pci_ida, b->index);
err_calls:
	kfree(b->calls);
err_devs:
	kfree(b->devs);
err_iounmap:
	pci_iounmap(pdev, b->regs);
err_release:
	pci_release_regions(pdev);
err_unmap:
	memunmap(b->region);
err_disable:
	pci_disable_device(pdev);
err_free:
	kfree(b);
	return err;
}

static void vbus_pci_remove(struct pci_dev *pdev)
{
	struct vbus_pci_bridge *b = pci_get_drvdata(pdev);

	/* No new work from the interrupt path after this */
	spin_lock_irq(&b->lock);
	b->removing = true;
	spin_unlock_irq(&b->lock);
	cancel_work_sync(&b->link_work);
	cancel_work_sync(&b->dev_work);

	/* Unbind the devices while the link still works (DEV_CLOSE) */
	mutex_lock(&b->link_lock);
	vbus_pci_dev_remove_all(b);
	spin_lock_irq(&b->lock);
	b->state = VBUS_PCI_LINK_DEAD;
	vbus_pci_call_fail_all(b);
	spin_unlock_irq(&b->lock);
	mutex_unlock(&b->link_lock);
	vbus_pci_set_guest_state(b, VBUS_STATE_RESET);

	device_remove_file(&pdev->dev, &dev_attr_vbus_stats);
	free_irq(pci_irq_vector(pdev, VBUS_EVQ_VECTOR), b);
	cancel_work_sync(&b->evq_work);
	pci_free_irq_vectors(pdev);
	pci_clear_master(pdev);
	destroy_workqueue(b->wq);
	ida_free(&vbus_pci_ida, b->index);
	kfree(b->calls);
	kfree(b->devs);
	pci_iounmap(pdev, b->regs);
	pci_release_regions(pdev);
	memunmap(b->region);
	pci_disable_device(pdev);
	kfree(b);
}

static const struct pci_device_id vbus_pci_ids[] = {
	{ PCI_DEVICE(VBUS_PCI_VENDOR, VBUS_PCI_DEVICE) },
	{ }
};
MODULE_DEVICE_TABLE(pci, vbus_pci_ids);

static struct pci_driver vbus_pci_driver = {
	.name = KBUILD_MODNAME,
	.id_table = vbus_pci_ids,
	.probe = vbus_pci_probe,
	.remove = vbus_pci_remove,
};

static int __init vbus_pci_init(void)
{
	int err;

	err = bus_register(&vbus_bus_type);
	if (err)
		return err;
	err = pci_register_driver(&vbus_pci_driver);
	if (err)
		bus_unregister(&vbus_bus_type);
	return err;
}

static void __exit vbus_pci_exit(void)
{
	pci_unregister_driver(&vbus_pci_driver);
	bus_unregister(&vbus_bus_type);
	ida_destroy(&vbus_pci_ida);
}

module_init(vbus_pci_init);
module_exit(vbus_pci_exit);

MODULE_DESCRIPTION("AlacrityVM vbus bridge on the ivshmem-doorbell PCI device");
MODULE_AUTHOR("AlacrityVM developers");
MODULE_LICENSE("GPL");
