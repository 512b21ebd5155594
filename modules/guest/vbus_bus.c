// SPDX-License-Identifier: GPL-2.0
/*
 * AlacrityVM vbus_pci: the "vbus" bus and its driver model.  Every device
 * of the bridge's device table (validated) becomes a struct vbus_device on
 * the bus, named "vbus<bridge>-<id>", for the class drivers; this file
 * also holds the class driver API that is not the call channel.
 */
#include <linux/log2.h>
#include <linux/slab.h>

#include "vbus_pci.h"

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

/* Caller holds b->lock.  Device with @id, or NULL. */
struct vbus_device *vbus_pci_find(struct vbus_pci_bridge *b, u32 id)
{
	u32 i;

	for (i = 0; i < b->devtab_slots; i++)
		if (b->devs[i] && b->devs[i]->id == id)
			return b->devs[i];
	return NULL;
}

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

void vbus_pci_dev_remove_all(struct vbus_pci_bridge *b)
{
	u32 i;

	for (i = 0; i < b->devtab_slots; i++)
		vbus_pci_dev_remove(b, i);
}

/* Caller holds b->link_lock.  Match the bus to the device table. */
void vbus_pci_rescan(struct vbus_pci_bridge *b)
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

void vbus_pci_dev_work(struct work_struct *work)
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

/* --- the class driver API ---------------------------------------------- */

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

int vbus_bus_register(void)
{
	return bus_register(&vbus_bus_type);
}

void vbus_bus_unregister(void)
{
	bus_unregister(&vbus_bus_type);
}
