#ifndef PATHTRACE_CNETFILTERLOG_SHIM_H
#define PATHTRACE_CNETFILTERLOG_SHIM_H
#include <stdint.h>
#include <sys/types.h>
#include <libnetfilter_log/libnetfilter_log.h>
#endif
