/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Everything kept under the pin directory, for the commands that use all of
 * it: the maps (pins.h), the programs (programs.h), the policy generations
 * (generation.h) and the assignments' map (assign_map.h).
 */
#ifndef MKTMECTL_BPFOBJ_H
#define MKTMECTL_BPFOBJ_H

#include "assign_map.h"
#include "generation.h"
#include "pins.h"
#include "programs.h"

#endif
