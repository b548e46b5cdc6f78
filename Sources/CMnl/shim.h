#ifndef PATHTRACE_CMNL_SHIM_H
#define PATHTRACE_CMNL_SHIM_H
#include <stdint.h>
#include <sys/socket.h>
#include <linux/netlink.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nf_tables.h>
#include <libmnl/libmnl.h>
#include <sys/eventfd.h>

/* setns(2) is declared only under _GNU_SOURCE, which Swift's Glibc module is not built with. */
extern int setns(int fd, int nstype);

/* Moves the calling thread into the network namespace behind `fd` (CLONE_NEWNET). */
static inline int pt_setns_net(int fd) { return setns(fd, 0x40000000 /* CLONE_NEWNET */); }

/* A non-blocking, close-on-exec eventfd (the stop signal of a collector loop). */
static inline int pt_eventfd(void) { return eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK); }

/* The nfnetlink message type of an nftables trace event. */
static inline uint16_t pt_nft_trace_msg_type(void) {
    return (uint16_t)((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_TRACE);
}
#endif
