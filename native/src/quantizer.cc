// Fused GDNSQ quantizer (forward + backward as one libtorch autograd function).
#include "common.h"

namespace gdnsq {

void RegisterQuantizer(Exports exports) {}

}  // namespace gdnsq
