// SPDX-License-Identifier: GPL-2.0
/*
 * AlacrityVM vbus_pci: the event queue, host-to-guest events raised on
 * MSI-X vector 0 and gated by their own shm-signal (docs/abi.md, "Event
 * queue").  Events wake queue handlers, finish calls and queue device
 * table rescans and config deliveries.
 */
#include "vbus_pci.h"

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
bool vbus_pci_evq_service(struct vbus_pci_bridge *b)
{
	struct vbus_shm_signal *sig = &b->evq->signal;
	u32 budget = VBUS_PCI_EVQ_BUDGET;

	if (b->state != VBUS_PCI_LINK_RUN)
		return false;
	do {
		do {
			vbus_shm_signal_clear_dirty(sig);
			if (!vbus_pci_evq_drain(b, &budget))
				return false;
			if (!budget)
				return true;
		} while (vbus_shm_signal_dirty(sig));
	} while (vbus_shm_signal_release_pending(sig));
	return false;
}

void vbus_pci_evq_work(struct work_struct *work)
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

/* Caller holds b->lock.  The host reset the event queue on INIT. */
void vbus_pci_evq_reset(struct vbus_pci_bridge *b)
{
	b->evq_next = 0;
	b->evq_overflows = le32_to_cpu(READ_ONCE(b->evq->overflows));
}

/*
 * Caller holds b->lock; the link is RUN.  Arm the event queue's signal;
 * its final re-check is the service pass that follows.
 */
void vbus_pci_evq_arm(struct vbus_pci_bridge *b)
{
	vbus_shm_signal_rearm(&b->evq->signal);
	if (vbus_pci_evq_service(b))
		queue_work(system_highpri_wq, &b->evq_work);
}
