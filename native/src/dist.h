// Distributed (c10d) bindings: process groups and collectives (dist.cc).
#pragma once
#include "common.h"

namespace gdnsq {
void RegisterDist(Exports exports);
}  // namespace gdnsq
