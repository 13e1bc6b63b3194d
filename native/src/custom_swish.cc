// The example of a custom op with a hand-written C++ backward (torch::autograd::Function):
// swish(x) = x * sigmoid(x), d/dx = s + x s (1 - s). The fused quantizer follows this path.
#include "common.h"
#include <torch/csrc/autograd/custom_function.h>

namespace gdnsq {

struct SwishFunction : public torch::autograd::Function<SwishFunction> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x) {
    ctx->save_for_backward({x});
    return x * at::sigmoid(x);
  }
  static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* ctx,
                                               torch::autograd::tensor_list grads) {
    // get_saved_variables() returns by value: keep the vector, not a reference into it.
    auto saved = ctx->get_saved_variables();
    const at::Tensor& x = saved[0];
    at::Tensor s = at::sigmoid(x);
    return {grads[0] * (s + x * s * (1 - s))};
  }
};

void RegisterCustomSwish(Exports exports) {
  GDNSQ_FN(exports, "swish", { RET(SwishFunction::apply(A_T(0))); });
}

}  // namespace gdnsq
