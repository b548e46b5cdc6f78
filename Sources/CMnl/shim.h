#ifndef PATHTRACE_CMNL_SHIM_H
#define PATHTRACE_CMNL_SHIM_H
#include <stdint.h>
#include <sys/socket.h>
#include <linux/netlink.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/rtnetlink.h>
#include <linux/if_link.h>
#include <linux/if_addr.h>
#include <linux/fib_rules.h>
#include <linux/net_namespace.h>
#include <linux/veth.h>
#include <libmnl/libmnl.h>
#include <sys/eventfd.h>
#include <string.h>
#include <time.h>

/* setns(2) is declared only under _GNU_SOURCE, which Swift's Glibc module is not built with. */
extern int setns(int fd, int nstype);
/* sched_getaffinity(2) likewise: the CPUs a replay may use (taskset). */
extern int sched_getaffinity(int pid, size_t cpusetsize, void *mask);

/* Moves the calling thread into the network namespace behind `fd` (CLONE_NEWNET). */
static inline int pt_setns_net(int fd) { return setns(fd, 0x40000000 /* CLONE_NEWNET */); }

/* A non-blocking, close-on-exec eventfd (the stop signal of a collector loop). */
static inline int pt_eventfd(void) { return eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK); }

/* The nfnetlink message type of an nftables trace event. */
static inline uint16_t pt_nft_trace_msg_type(void) {
    return (uint16_t)((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_TRACE);
}

/* recvmmsg(2) is declared only under _GNU_SOURCE as well; the layout is the kernel's struct mmsghdr. */
struct pt_mmsghdr {
    struct msghdr msg_hdr;
    unsigned int msg_len;
};
extern int recvmmsg(int fd, struct pt_mmsghdr *vec, unsigned int vlen, int flags, struct timespec *timeout);

/* Receives up to `count` (at most 256) datagrams without blocking, one per `slot`-byte slot of `buf`;
 * each length goes to `lengths` (0 for a datagram cut short by its slot). One system call for a
 * burst of trace messages, where recv(2) would take one each. Returns the number received, or -1. */
static inline int pt_recv_batch(int fd, void *buf, unsigned int count, unsigned int slot, unsigned int *lengths) {
    struct pt_mmsghdr vec[256];
    struct iovec iov[256];
    if (count > 256) count = 256;
    memset(vec, 0, sizeof(struct pt_mmsghdr) * count);
    for (unsigned int i = 0; i < count; i++) {
        iov[i].iov_base = (char *)buf + (size_t)i * slot;
        iov[i].iov_len = slot;
        vec[i].msg_hdr.msg_iov = &iov[i];
        vec[i].msg_hdr.msg_iovlen = 1;
    }
    int n = recvmmsg(fd, vec, count, MSG_DONTWAIT, NULL);
    for (int i = 0; i < n; i++) lengths[i] = (vec[i].msg_hdr.msg_flags & MSG_TRUNC) ? 0 : vec[i].msg_len;
    return n;
}

/* NLM_F_REQUEST | NLM_F_DUMP as the 16-bit flags field wants them. */
static inline uint16_t pt_nlm_dump_flags(void) { return (uint16_t)(NLM_F_REQUEST | NLM_F_DUMP); }
#endif
