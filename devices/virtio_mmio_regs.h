/*
 * virtio-mmio's wire format (virtio 1.2, 4.2.2, version 2): register
 * offsets, status and feature bits. Shared by gmm's transport
 * (devices/virtio_mmio.h) and the test guest's driver (guest/virtio.h),
 * so only constants.
 */
#ifndef GMM_DEVICES_VIRTIO_MMIO_REGS_H
#define GMM_DEVICES_VIRTIO_MMIO_REGS_H

/* Registers (offsets in the 0x200-byte block; config space follows at 0x100). */
#define VIRTIO_MMIO_MAGIC_VALUE         0x000  /* "virt" */
#define VIRTIO_MMIO_VERSION             0x004  /* 2 */
#define VIRTIO_MMIO_DEVICE_ID           0x008
#define VIRTIO_MMIO_VENDOR_ID           0x00c
#define VIRTIO_MMIO_DEVICE_FEATURES     0x010
#define VIRTIO_MMIO_DEVICE_FEATURES_SEL 0x014
#define VIRTIO_MMIO_DRIVER_FEATURES     0x020
#define VIRTIO_MMIO_DRIVER_FEATURES_SEL 0x024
#define VIRTIO_MMIO_QUEUE_SEL           0x030
#define VIRTIO_MMIO_QUEUE_NUM_MAX       0x034
#define VIRTIO_MMIO_QUEUE_NUM           0x038
#define VIRTIO_MMIO_QUEUE_READY         0x044
#define VIRTIO_MMIO_QUEUE_NOTIFY        0x050
#define VIRTIO_MMIO_INTERRUPT_STATUS    0x060
#define VIRTIO_MMIO_INTERRUPT_ACK       0x064
#define VIRTIO_MMIO_STATUS              0x070
#define VIRTIO_MMIO_QUEUE_DESC_LOW      0x080
#define VIRTIO_MMIO_QUEUE_DESC_HIGH     0x084
#define VIRTIO_MMIO_QUEUE_AVAIL_LOW     0x090  /* the spec's QueueDriver */
#define VIRTIO_MMIO_QUEUE_AVAIL_HIGH    0x094
#define VIRTIO_MMIO_QUEUE_USED_LOW      0x0a0  /* the spec's QueueDevice */
#define VIRTIO_MMIO_QUEUE_USED_HIGH     0x0a4
#define VIRTIO_MMIO_CONFIG_GENERATION   0x0fc
#define VIRTIO_MMIO_CONFIG              0x100
#define VIRTIO_MMIO_SIZE                0x1000 /* each device's slot on the bus */

#define VIRTIO_MMIO_MAGIC   0x74726976u  /* "virt" little-endian */
#define VIRTIO_MMIO_VENDOR  0x00474d4du  /* "GMM" */

/* Device status bits (2.1). */
#define VIRTIO_STATUS_ACKNOWLEDGE        1
#define VIRTIO_STATUS_DRIVER             2
#define VIRTIO_STATUS_DRIVER_OK          4
#define VIRTIO_STATUS_FEATURES_OK        8
#define VIRTIO_STATUS_DEVICE_NEEDS_RESET 0x40
#define VIRTIO_STATUS_FAILED             0x80

#define VIRTIO_F_VERSION_1  32   /* feature bit numbers */

/* InterruptStatus bits. */
#define VIRTIO_MMIO_INT_VRING   1
#define VIRTIO_MMIO_INT_CONFIG  2

#endif
