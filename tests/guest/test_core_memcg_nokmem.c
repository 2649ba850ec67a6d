// SPDX-License-Identifier: GPL-2.0
/*
 * test_core_memcg.c under cgroup.memory=nokmem (test_core_memcg_nokmem.bootargs,
 * a boot of its own): kmem accounting is off, and region pages must be
 * charged and limited all the same. The xarray test is left out: its nodes
 * are kmem, which this boot does not account, as for the rest of the kernel.
 */
#define MEMCG_NOKMEM	1
#include "test_core_memcg.c"
