// The C++ side of `gdnsq bench engine`: one ResNet-20 training step (forward, loss, backward)
// written directly against libtorch, fed the same parameters as the TypeScript sequence, so
// the ratio between the two measures only the binding's overhead.
#include "common.h"

namespace gdnsq {

namespace {
struct Cursor {
  const std::vector<at::Tensor>& p;
  size_t i = 0;
  const at::Tensor& next() { return p.at(i++); }
};

at::Tensor ConvBn(Cursor& c, const at::Tensor& x, int64_t stride, int64_t pad) {
  const at::Tensor& w = c.next();
  at::Tensor y = at::conv2d(x, w, {}, {stride, stride}, {pad, pad}, {1, 1}, 1);
  const at::Tensor& g = c.next();
  const at::Tensor& b = c.next();
  const at::Tensor& rm = c.next();
  const at::Tensor& rv = c.next();
  return at::batch_norm(y, g, b, rm, rv, true, 0.1, 1e-5, true);
}
}  // namespace

// resnet20Step(x, labels, params): params in the order conv1, bn1(w,b,rm,rv), then per basic
// block conv1,bn1,conv2,bn2[,downsample conv,bn], then fc.weight, fc.bias. Returns the loss.
// 19 conv+bn groups of 5 tensors (stem, 9 blocks × 2, 2 projections) and the fc pair.
constexpr size_t kResNet20Params = 5 * (1 + 9 * 2 + 2) + 2;

void RegisterBench(Exports exports) {
  GDNSQ_FN(exports, "resnet20Step", {
    at::Tensor& x = A_T(0);
    at::Tensor& y = A_T(1);
    std::vector<at::Tensor> params = A_TLIST(2);
    if (params.size() != kResNet20Params)
      ArgError(OP, 2, "must hold the " + std::to_string(kResNet20Params) + " ResNet-20 tensors, got " + std::to_string(params.size()));
    Cursor c{params};
    at::Tensor h = at::relu(ConvBn(c, x, 1, 1));
    int64_t inC = 16;
    for (int64_t stage = 0; stage < 3; ++stage) {
      int64_t outC = 16 << stage;
      for (int64_t blk = 0; blk < 3; ++blk) {
        int64_t stride = (stage > 0 && blk == 0) ? 2 : 1;
        at::Tensor o = at::relu(ConvBn(c, h, stride, 1));
        o = ConvBn(c, o, 1, 1);
        at::Tensor sc = (stride != 1 || inC != outC) ? ConvBn(c, h, stride, 0) : h;
        h = at::relu(o + sc);
        inC = outC;
      }
    }
    h = at::adaptive_avg_pool2d(h, {1, 1}).flatten(1);
    const at::Tensor& fw = c.next();
    const at::Tensor& fb = c.next();
    at::Tensor loss = at::cross_entropy_loss(at::linear(h, fw, fb), y);
    loss.backward();
    RET(loss.detach());
  });
}

}  // namespace gdnsq
