// SPDX-License-Identifier: GPL-2.0
/*
 * AlacrityVM vbus_pci: the call channel, guest-to-host requests in the
 * call slots of the region (docs/abi.md, "Call channel"), and the class
 * driver calls built on it (open, close, class calls).
 */
#include <linux/jiffies.h>
#include <linux/slab.h>

#include "vbus_pci.h"

static unsigned int call_timeout_ms = 5000;
module_param(call_timeout_ms, uint, 0644);
MODULE_PARM_DESC(call_timeout_ms, "Call channel timeout (ms)");

/*
 * Allocate the guest-private state of the validated b->call_slots.
 * Return: 0 or -ENOMEM.
 */
int vbus_pci_call_init(struct vbus_pci_bridge *b)
{
	u32 i;

	b->calls = kcalloc(b->call_slots, sizeof(*b->calls), GFP_KERNEL);
	if (!b->calls)
		return -ENOMEM;
	for (i = 0; i < b->call_slots; i++)
		init_completion(&b->calls[i].done);
	sema_init(&b->call_sem, b->call_slots);
	return 0;
}

/* Undo vbus_pci_call_init(); every call has finished. */
void vbus_pci_call_free(struct vbus_pci_bridge *b)
{
	kfree(b->calls);
}

/* Caller holds b->lock.  The host reset the call channel on INIT. */
void vbus_pci_call_reset(struct vbus_pci_bridge *b)
{
	u32 i;

	for (i = 0; i < b->call_slots; i++)
		b->calls[i].seq = 0;
}

/*
 * Caller holds b->lock.  If slot @i has its response, copy it and finish
 * the call.  Runs for VBUS_EV_CALL_DONE and from the waiter's own polling,
 * so a lost event only delays a call.
 */
void vbus_pci_call_check(struct vbus_pci_bridge *b, u32 i)
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
void vbus_pci_call_fail_all(struct vbus_pci_bridge *b)
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
