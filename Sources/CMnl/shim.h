#ifndef PATHTRACE_CMNL_SHIM_H
#define PATHTRACE_CMNL_SHIM_H
#include <stdint.h>
#include <sys/socket.h>
#include <linux/netlink.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nf_tables.h>
#include <libmnl/libmnl.h>
#endif
