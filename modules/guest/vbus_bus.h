/* SPDX-License-Identifier: GPL-2.0 */
/*
 * AlacrityVM vbus: the in-kernel API between the bridge driver (vbus_pci)
 * and the device class drivers (vbus_enet, ...), plus the guest endpoint
 * of a vbus queue (rings, vbus_ring.c; its shm-signals are the functions
 * of <linux/vbus_shm_signal.h>).
 *
 * The protocol itself is in <linux/vbus.h>, <linux/vbus_ring.h> and
 * docs/abi.md.  Everything here is kernel-internal and may change.
 */
#ifndef _VBUS_BUS_H
#define _VBUS_BUS_H

#include <linux/device.h>
#include <linux/mod_devicetable.h>
#include <linux/types.h>
#include <linux/vbus.h>
#include <linux/vbus_ring.h>
#include <linux/vbus_shm_signal.h>

struct vbus_pci_bridge;
struct vbus_device;

/* Largest ring the guest accepts (docs/abi.md: at most 4096 entries) */
#define VBUS_RING_MAX_ENTRIES	4096
/* Most queues a device may declare */
#define VBUS_DEV_MAX_QUEUES	64

/**
 * typedef vbus_queue_handler_t - guest-bound signal handler of one queue
 * @vdev: the device
 * @queue: queue index within the device
 * @priv: the pointer given to vbus_dev_set_queue_handler()
 *
 * Called from the bridge's MSI-X interrupt handler (hard irq context, with
 * the bridge's device lock held) when the host posts VBUS_EV_SIGNAL for
 * @queue, or when the bridge services every queue after an event queue
 * overflow.  It must not sleep; typically it disarms the queue's to_guest
 * signal and schedules NAPI.
 */
typedef void (*vbus_queue_handler_t)(struct vbus_device *vdev, u32 queue,
				     void *priv);

/**
 * struct vbus_device - one device of the device table, on the vbus bus
 * @dev: the driver model device, named "vbus<bridge>-<id>"
 * @bridge: the bridge the device lives on (opaque to class drivers)
 * @id: device id from the device table
 * @type: VBUS_DEV_TYPE_*
 * @abi_version: version of the device class protocol
 * @slot: index of the device table slot
 * @doorbell_vector: doorbell vector of the device's queues
 * @num_queues: number of queues, each with a validated descriptor
 * @area: kernel mapping of the device area (inside the region)
 * @area_size: bytes in @area
 * @config_offset: config offset inside @area (validated)
 * @config_size: config bytes (validated)
 * @queues: private, validated copies of the queue descriptors
 * @handlers: per-queue signal handlers, under the bridge's device lock
 * @handler_priv: per-queue handler argument, under the same lock
 * @opened: VBUS_CALL_DEV_OPEN succeeded and no close was sent yet
 * @config_pending: a VBUS_EV_DEV_CONFIG arrived, not yet delivered
 */
struct vbus_device {
	struct device dev;
	struct vbus_pci_bridge *bridge;
	u32 id;
	u32 type;
	u32 abi_version;
	u32 slot;
	u32 doorbell_vector;
	u32 num_queues;
	void *area;
	u64 area_size;
	u32 config_offset;
	u32 config_size;
	struct vbus_queue_desc *queues;
	vbus_queue_handler_t *handlers;
	void **handler_priv;
	bool opened;
	atomic_t config_pending;
};

#define to_vbus_device(d) container_of(d, struct vbus_device, dev)

/**
 * struct vbus_driver - a device class driver
 * @driver: the driver model driver
 * @type: VBUS_DEV_TYPE_* this driver binds to
 * @probe: bind to a device (process context, may sleep)
 * @remove: unbind; on return nothing of the driver may touch the device
 * @config_changed: the host announced a config change (VBUS_EV_DEV_CONFIG
 *	or an event queue overflow).  Process context, device lock held, so
 *	it never runs concurrently with @probe or @remove.  Optional.
 */
struct vbus_driver {
	struct device_driver driver;
	u32 type;
	int (*probe)(struct vbus_device *vdev);
	void (*remove)(struct vbus_device *vdev);
	void (*config_changed)(struct vbus_device *vdev);
};

#define to_vbus_driver(d) container_of(d, struct vbus_driver, driver)

int __vbus_driver_register(struct vbus_driver *drv, struct module *owner);
#define vbus_driver_register(drv) __vbus_driver_register(drv, THIS_MODULE)
void vbus_driver_unregister(struct vbus_driver *drv);

#define module_vbus_driver(__drv) \
	module_driver(__drv, vbus_driver_register, vbus_driver_unregister)

int vbus_dev_read_config(struct vbus_device *vdev, void *buf, size_t len);
int vbus_dev_open(struct vbus_device *vdev);
void vbus_dev_close(struct vbus_device *vdev);
int vbus_dev_call(struct vbus_device *vdev, u32 op, const void *req,
		  size_t req_len, void *resp, size_t *resp_len);
void vbus_dev_kick(struct vbus_device *vdev);
int vbus_dev_set_queue_handler(struct vbus_device *vdev, u32 queue,
			       vbus_queue_handler_t handler, void *priv);
void vbus_dev_clear_queue_handlers(struct vbus_device *vdev);
void vbus_dev_report_fault(struct vbus_device *vdev, const char *why);

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
static inline const struct vbus_queue_desc *
vbus_dev_queue_desc(struct vbus_device *vdev, u32 queue)
{
	if (queue >= vdev->num_queues)
		return NULL;
	return &vdev->queues[queue];
}

/**
 * struct vbus_ring - the guest endpoint of one queue
 * @submit: submit ring in the region (guest writes)
 * @used: used ring in the region (host writes)
 * @to_host: signal the host receives (guest is the sender)
 * @to_guest: signal the guest receives (host is the sender)
 * @pool: buffer pool in the region
 * @num: ring entries, a power of two
 * @mask: @num - 1
 * @buf_size: bytes per pool buffer
 * @head: next submit entry number (free running)
 * @tail: next used entry number (free running); @head - @tail in flight
 *
 * A ring has one submitter and one consumer of used entries, which the
 * class driver serializes (the TX queue lock, NAPI); the signal helpers
 * may be called from any context.
 */
struct vbus_ring {
	struct vbus_ring_desc *submit;
	struct vbus_ring_used *used;
	struct vbus_shm_signal *to_host;
	struct vbus_shm_signal *to_guest;
	u8 *pool;
	u32 num;
	u32 mask;
	u32 buf_size;
	u32 head;
	u32 tail;
};

int vbus_ring_init(struct vbus_ring *ring, struct vbus_device *vdev,
		   u32 queue);
bool vbus_ring_is_clean(const struct vbus_ring *ring);
void vbus_ring_set(struct vbus_ring *ring, u32 n, u16 flags, u32 len);
void vbus_ring_commit(struct vbus_ring *ring, u32 count);
int vbus_ring_peek_used(const struct vbus_ring *ring, u32 n,
			struct vbus_ring_used *copy);

/**
 * vbus_ring_free_slots() - submit slots the guest may fill now
 * @ring: the ring
 *
 * Context: the submitter or the used-ring consumer (single-threaded with
 * respect to @ring->head and @ring->tail).
 * Return: number of free slots.
 */
static inline u32 vbus_ring_free_slots(const struct vbus_ring *ring)
{
	return ring->num - (ring->head - ring->tail);
}

/**
 * vbus_ring_in_flight() - entries submitted and not yet seen as used
 * @ring: the ring
 *
 * Return: number of entries the host still owns.
 */
static inline u32 vbus_ring_in_flight(const struct vbus_ring *ring)
{
	return ring->head - ring->tail;
}

/**
 * vbus_ring_consume() - give back used entries the caller has handled
 * @ring: the ring
 * @count: entries, from @ring->tail, that vbus_ring_peek_used() returned
 *
 * Their submit slots (and pool buffers) are the guest's again.
 *
 * Context: the ring's single used-entry consumer.
 */
static inline void vbus_ring_consume(struct vbus_ring *ring, u32 count)
{
	ring->tail += count;
}

/**
 * vbus_ring_buf() - pool buffer owned by submit slot @slot
 * @ring: the ring
 * @slot: slot index (an entry number masked with @ring->mask)
 *
 * Return: kernel address of the buffer; @ring->buf_size bytes.
 */
static inline u8 *vbus_ring_buf(const struct vbus_ring *ring, u32 slot)
{
	return ring->pool + (size_t)slot * ring->buf_size;
}

#endif /* _VBUS_BUS_H */
