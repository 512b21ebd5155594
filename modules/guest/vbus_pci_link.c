// SPDX-License-Identifier: GPL-2.0
/*
 * AlacrityVM vbus_pci: the vbus bridge on QEMU's ivshmem-doorbell device.
 * This file is the PCI driver (probe and remove), the bridge state machine
 * (the link, docs/abi.md "Bridge states"), the MSI-X handler and the
 * bridge's sysfs files; vbus_pci.h lists the other files of the module.
 */
#include <linux/delay.h>
#include <linux/idr.h>
#include <linux/interrupt.h>
#include <linux/jiffies.h>
#include <linux/log2.h>
#include <linux/module.h>
#include <linux/slab.h>

#include "vbus_pci.h"

static unsigned int handshake_timeout_ms = 5000;
module_param(handshake_timeout_ms, uint, 0644);
MODULE_PARM_DESC(handshake_timeout_ms,
		 "How long probe waits for the host to reach RUN (ms)");

static DEFINE_IDA(vbus_pci_ida);

/* Caller holds b->lock.  Stop using the region and restart the link. */
void vbus_pci_schedule_restart(struct vbus_pci_bridge *b)
{
	if (b->state == VBUS_PCI_LINK_DEAD)
		return;
	b->state = VBUS_PCI_LINK_DOWN;	/* calls now fail fast */
	if (!b->removing)
		queue_work(b->wq, &b->link_work);
}

/* Caller holds b->lock.  Let dev_work rescan and deliver config changes. */
void vbus_pci_queue_dev_work(struct vbus_pci_bridge *b)
{
	if (!b->removing)
		queue_work(b->wq, &b->dev_work);
}

/* Caller holds b->lock.  The host broke the protocol. */
void vbus_pci_fault(struct vbus_pci_bridge *b, const char *why, u32 value)
{
	b->stats.faults++;
	dev_err_ratelimited(&b->pdev->dev,
			    "host protocol violation: %s (%u); resetting the bridge\n",
			    why, value);
	vbus_pci_schedule_restart(b);
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
	spin_lock_irq(&b->lock);
	/* The host reset the event queue and the call channel on INIT */
	vbus_pci_evq_reset(b);
	vbus_pci_call_reset(b);
	b->state = VBUS_PCI_LINK_RUN;
	b->stats.restarts++;
	spin_unlock_irq(&b->lock);

	vbus_pci_set_guest_state(b, VBUS_STATE_RUN);

	spin_lock_irq(&b->lock);
	vbus_pci_evq_arm(b);
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

/* --- sysfs: vbus_link and statistics/ ----------------------------------- */

static const char * const vbus_pci_link_names[] = {
	[VBUS_PCI_LINK_DOWN] = "down",
	[VBUS_PCI_LINK_INIT] = "init",
	[VBUS_PCI_LINK_WAIT] = "wait",
	[VBUS_PCI_LINK_RUN] = "run",
	[VBUS_PCI_LINK_DEAD] = "dead",
};

static ssize_t vbus_link_show(struct device *dev,
			      struct device_attribute *attr, char *buf)
{
	struct vbus_pci_bridge *b = pci_get_drvdata(to_pci_dev(dev));
	int state;

	spin_lock_irq(&b->lock);
	state = b->state;
	spin_unlock_irq(&b->lock);
	return sysfs_emit(buf, "%s\n", vbus_pci_link_names[state]);
}
static DEVICE_ATTR_RO(vbus_link);

static struct attribute *vbus_pci_attrs[] = {
	&dev_attr_vbus_link.attr,
	NULL,
};

static const struct attribute_group vbus_pci_group = {
	.attrs = vbus_pci_attrs,
};

/* One counter of struct vbus_pci_stats, at byte offset @off */
static ssize_t vbus_pci_stat_show(struct device *dev, char *buf, size_t off)
{
	struct vbus_pci_bridge *b = pci_get_drvdata(to_pci_dev(dev));
	u64 v;

	spin_lock_irq(&b->lock);
	v = *(u64 *)((u8 *)&b->stats + off);
	spin_unlock_irq(&b->lock);
	return sysfs_emit(buf, "%llu\n", v);
}

/* statistics/<name>: struct vbus_pci_stats.<name>, read-only */
#define VBUS_PCI_STAT(name)						\
static ssize_t name##_show(struct device *dev,				\
			   struct device_attribute *attr, char *buf)	\
{									\
	return vbus_pci_stat_show(dev, buf,				\
				  offsetof(struct vbus_pci_stats, name));	\
}									\
static DEVICE_ATTR_RO(name)

VBUS_PCI_STAT(irqs);
VBUS_PCI_STAT(events);
VBUS_PCI_STAT(signals);
VBUS_PCI_STAT(doorbells);
VBUS_PCI_STAT(faults);
VBUS_PCI_STAT(restarts);
VBUS_PCI_STAT(call_timeouts);
VBUS_PCI_STAT(evq_overflows);

static struct attribute *vbus_pci_stat_attrs[] = {
	&dev_attr_irqs.attr,
	&dev_attr_events.attr,
	&dev_attr_signals.attr,
	&dev_attr_doorbells.attr,
	&dev_attr_faults.attr,
	&dev_attr_restarts.attr,
	&dev_attr_call_timeouts.attr,
	&dev_attr_evq_overflows.attr,
	NULL,
};

static const struct attribute_group vbus_pci_stat_group = {
	.name = "statistics",
	.attrs = vbus_pci_stat_attrs,
};

/* Created by the driver core after probe, removed before remove */
static const struct attribute_group *vbus_pci_groups[] = {
	&vbus_pci_group,
	&vbus_pci_stat_group,
	NULL,
};

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

/*
 * What probe has set up so far (b->stage): each step names what the
 * teardown must undo, in reverse order, both when a later probe step fails
 * and in remove.
 */
enum vbus_pci_stage {
	VBUS_PCI_STAGE_NONE,	/* b allocated and initialized */
	VBUS_PCI_STAGE_ENABLED,	/* pci_enable_device_mem() */
	VBUS_PCI_STAGE_MAPPED,	/* BAR2 mapped, header validated */
	VBUS_PCI_STAGE_REGIONS,	/* pci_request_regions() */
	VBUS_PCI_STAGE_IOMAPPED,	/* BAR0 mapped */
	VBUS_PCI_STAGE_DEVS,	/* slot -> device table */
	VBUS_PCI_STAGE_CALLS,	/* call channel state */
	VBUS_PCI_STAGE_INDEX,	/* bridge number */
	VBUS_PCI_STAGE_WQ,	/* ordered workqueue */
	VBUS_PCI_STAGE_MASTER,	/* bus mastering */
	VBUS_PCI_STAGE_VECTORS,	/* MSI-X vectors */
	VBUS_PCI_STAGE_IRQ,	/* the event queue's handler */
	VBUS_PCI_STAGE_LINK,	/* link started: devices may be on the bus */
};

/* Caller holds nothing.  Unbind every device, close the link for good. */
static void vbus_pci_link_stop(struct vbus_pci_bridge *b)
{
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
}

/* Undo every step of probe that b->stage records, last first; frees @b. */
static void vbus_pci_teardown(struct vbus_pci_bridge *b)
{
	struct pci_dev *pdev = b->pdev;

	switch (b->stage) {
	case VBUS_PCI_STAGE_LINK:
		vbus_pci_link_stop(b);
		fallthrough;
	case VBUS_PCI_STAGE_IRQ:
		free_irq(pci_irq_vector(pdev, VBUS_EVQ_VECTOR), b);
		cancel_work_sync(&b->evq_work);
		fallthrough;
	case VBUS_PCI_STAGE_VECTORS:
		pci_free_irq_vectors(pdev);
		fallthrough;
	case VBUS_PCI_STAGE_MASTER:
		pci_clear_master(pdev);
		fallthrough;
	case VBUS_PCI_STAGE_WQ:
		destroy_workqueue(b->wq);
		fallthrough;
	case VBUS_PCI_STAGE_INDEX:
		ida_free(&vbus_pci_ida, b->index);
		fallthrough;
	case VBUS_PCI_STAGE_CALLS:
		vbus_pci_call_free(b);
		fallthrough;
	case VBUS_PCI_STAGE_DEVS:
		kfree(b->devs);
		fallthrough;
	case VBUS_PCI_STAGE_IOMAPPED:
		pci_iounmap(pdev, b->regs);
		fallthrough;
	case VBUS_PCI_STAGE_REGIONS:
		pci_release_regions(pdev);
		fallthrough;
	case VBUS_PCI_STAGE_MAPPED:
		memunmap(b->region);
		fallthrough;
	case VBUS_PCI_STAGE_ENABLED:
		pci_disable_device(pdev);
		fallthrough;
	case VBUS_PCI_STAGE_NONE:
		break;
	}
	kfree(b);
}

/* The steps of probe; b->stage records each one done.  Return: 0 or -errno */
static int vbus_pci_setup(struct vbus_pci_bridge *b)
{
	struct pci_dev *pdev = b->pdev;
	int err;

	err = pci_enable_device_mem(pdev);
	if (err)
		return err;
	b->stage = VBUS_PCI_STAGE_ENABLED;
	err = vbus_pci_map_region(b);
	if (err)
		return err;
	b->stage = VBUS_PCI_STAGE_MAPPED;
	err = pci_request_regions(pdev, KBUILD_MODNAME);
	if (err)
		return err;
	b->stage = VBUS_PCI_STAGE_REGIONS;
	b->regs = pci_iomap(pdev, VBUS_PCI_REGS_BAR, 0);
	if (!b->regs)
		return -ENOMEM;
	b->stage = VBUS_PCI_STAGE_IOMAPPED;
	b->devs = kcalloc(b->devtab_slots, sizeof(*b->devs), GFP_KERNEL);
	if (!b->devs)
		return -ENOMEM;
	b->stage = VBUS_PCI_STAGE_DEVS;
	err = vbus_pci_call_init(b);
	if (err)
		return err;
	b->stage = VBUS_PCI_STAGE_CALLS;
	b->index = ida_alloc(&vbus_pci_ida, GFP_KERNEL);
	if (b->index < 0)
		return b->index;
	b->stage = VBUS_PCI_STAGE_INDEX;
	b->wq = alloc_ordered_workqueue("vbus%d", 0, b->index);
	if (!b->wq)
		return -ENOMEM;
	b->stage = VBUS_PCI_STAGE_WQ;
	pci_set_master(pdev);
	b->stage = VBUS_PCI_STAGE_MASTER;
	err = pci_alloc_irq_vectors(pdev, 1, 1, PCI_IRQ_MSIX);
	if (err < 0) {
		dev_err(&pdev->dev, "no MSI-X (ivshmem-doorbell needs vectors>=1): %d\n",
			err);
		return err;
	}
	b->stage = VBUS_PCI_STAGE_VECTORS;
	err = request_irq(pci_irq_vector(pdev, VBUS_EVQ_VECTOR), vbus_pci_irq,
			  0, KBUILD_MODNAME, b);
	if (err)
		return err;
	b->stage = VBUS_PCI_STAGE_IRQ;

	dev_info(&pdev->dev,
		 "vbus bridge %d: region %llu KiB, %u device slots, %u events, %u call slots\n",
		 b->index, b->region_size >> 10, b->devtab_slots,
		 b->evq_entries, b->call_slots);
	mutex_lock(&b->link_lock);
	vbus_pci_link_restart(b);
	mutex_unlock(&b->link_lock);
	b->stage = VBUS_PCI_STAGE_LINK;
	return 0;
}

static int vbus_pci_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	struct vbus_pci_bridge *b;
	int err;

	b = kzalloc(sizeof(*b), GFP_KERNEL);
	if (!b)
		return -ENOMEM;
	b->pdev = pdev;
	b->stage = VBUS_PCI_STAGE_NONE;
	spin_lock_init(&b->lock);
	mutex_init(&b->link_lock);
	init_waitqueue_head(&b->link_wait);
	INIT_WORK(&b->link_work, vbus_pci_link_work);
	INIT_WORK(&b->dev_work, vbus_pci_dev_work);
	INIT_WORK(&b->evq_work, vbus_pci_evq_work);
	b->state = VBUS_PCI_LINK_DOWN;
	pci_set_drvdata(pdev, b);

	err = vbus_pci_setup(b);
	if (err)
		vbus_pci_teardown(b);
	return err;
}

static void vbus_pci_remove(struct pci_dev *pdev)
{
	vbus_pci_teardown(pci_get_drvdata(pdev));
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
	.dev_groups = vbus_pci_groups,
};

static int __init vbus_pci_init(void)
{
	int err;

	err = vbus_bus_register();
	if (err)
		return err;
	err = pci_register_driver(&vbus_pci_driver);
	if (err)
		vbus_bus_unregister();
	return err;
}

static void __exit vbus_pci_exit(void)
{
	pci_unregister_driver(&vbus_pci_driver);
	vbus_bus_unregister();
	ida_destroy(&vbus_pci_ida);
}

module_init(vbus_pci_init);
module_exit(vbus_pci_exit);

MODULE_DESCRIPTION("AlacrityVM vbus bridge on the ivshmem-doorbell PCI device");
MODULE_AUTHOR("AlacrityVM developers");
MODULE_LICENSE("GPL");
