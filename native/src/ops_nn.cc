// Neural-network functionals: convolution, normalisation, pooling, activations, losses.
#include "common.h"

namespace gdnsq {

static int64_t Reduction(const Napi::Value& v, const char* op, size_t i) {
  if (v.IsUndefined()) return at::Reduction::Mean;
  std::string r = Str(v, op, i);
  if (r == "mean") return at::Reduction::Mean;
  if (r == "sum") return at::Reduction::Sum;
  if (r == "none") return at::Reduction::None;
  ArgError(op, i, "is an unknown reduction '" + r + "' (mean, sum, none)");
}

static void Need4D(const at::Tensor& x, const char* what) {
  if (x.dim() != 4)
    throw std::invalid_argument(std::string(what) + " expects a 4-D input [N, C, H, W], got " + std::to_string(x.dim()) + "-D");
}

void RegisterNNOps(Exports exports) {
  // conv2d(x, w, b|null, stride[2], padding[2], dilation[2], groups)
  GDNSQ_FN(exports, "conv2d", {
    at::Tensor& x = A_T(0);
    Need4D(x, "conv2d");
    RET(at::conv2d(x, A_T(1), A_TOPT(2), A_INTS(3), A_INTS(4), A_INTS(5), A_INT(6)));
  });
  // batchNorm(x, weight|null, bias|null, runningMean|null, runningVar|null, training, momentum, eps)
  GDNSQ_FN(exports, "batchNorm", {
    RET(at::batch_norm(A_T(0), A_TOPT(1), A_TOPT(2), A_TOPT(3), A_TOPT(4), A_BOOL(5), A_NUM(6), A_NUM(7), /*cudnn_enabled=*/true));
  });
  // maxPool2d(x, kernel[2], stride[2], padding[2], dilation[2], ceilMode)
  GDNSQ_FN(exports, "maxPool2d", {
    at::Tensor& x = A_T(0);
    Need4D(x, "maxPool2d");
    RET(at::max_pool2d(x, A_INTS(1), A_INTS(2), A_INTS(3), A_INTS(4), A_BOOL(5)));
  });
  // avgPool2d(x, kernel[2], stride[2], padding[2], ceilMode, countIncludePad)
  GDNSQ_FN(exports, "avgPool2d", {
    at::Tensor& x = A_T(0);
    Need4D(x, "avgPool2d");
    RET(at::avg_pool2d(x, A_INTS(1), A_INTS(2), A_INTS(3), A_BOOL(4), A_BOOL(5)));
  });
  GDNSQ_FN(exports, "adaptiveAvgPool2d", {
    at::Tensor& x = A_T(0);
    Need4D(x, "adaptiveAvgPool2d");
    RET(at::adaptive_avg_pool2d(x, A_INTS(1)));
  });
  GDNSQ_FN(exports, "adaptiveMaxPool2d", {
    at::Tensor& x = A_T(0);
    Need4D(x, "adaptiveMaxPool2d");
    RET(std::get<0>(at::adaptive_max_pool2d(x, A_INTS(1))));
  });
  // layerNorm(x, normalizedShape[], weight|null, bias|null, eps): ONNX LayerNormalization of imported graphs.
  GDNSQ_FN(exports, "layerNorm", { RET(at::layer_norm(A_T(0), A_INTS(1), A_TOPT(2), A_TOPT(3), A_NUM(4))); });
  // gelu(x, tanhApproximation): the exact form unless the graph used the tanh approximation.
  GDNSQ_FN(exports, "gelu", { RET(at::gelu(A_T(0), A_BOOL(1) ? "tanh" : "none")); });
  GDNSQ_FN(exports, "softmax", { RET(at::softmax(A_T(0), A_INT(1))); });
  GDNSQ_FN(exports, "logSoftmax", { RET(at::log_softmax(A_T(0), A_INT(1))); });
  // crossEntropy(logits, target(int64 classes or float probabilities), reduction, labelSmoothing)
  GDNSQ_FN(exports, "crossEntropy", {
    double ls = info[3].IsUndefined() ? 0.0 : A_NUM(3);
    RET(at::cross_entropy_loss(A_T(0), A_T(1), c10::nullopt, Reduction(info[2], OP, 2), -100, ls));
  });
  GDNSQ_FN(exports, "nllLoss", { RET(at::nll_loss(A_T(0), A_T(1), c10::nullopt, Reduction(info[2], OP, 2), -100)); });
  // klDiv(input log-probs, target, reduction, logTarget); "batchmean" = sum / batch, as PyTorch.
  GDNSQ_FN(exports, "klDiv", {
    at::Tensor& input = A_T(0);
    bool logTarget = info[3].IsBoolean() && A_BOOL(3);
    std::string red = info[2].IsUndefined() ? "mean" : A_STR(2);
    if (red == "batchmean") RET(at::kl_div(input, A_T(1), at::Reduction::Sum, logTarget) / input.size(0));
    RET(at::kl_div(input, A_T(1), Reduction(info[2], OP, 2), logTarget));
  });
  GDNSQ_FN(exports, "mseLoss", { RET(at::mse_loss(A_T(0), A_T(1), Reduction(info[2], OP, 2))); });
  GDNSQ_FN(exports, "dropout", {
    double p = A_NUM(1);
    if (p < 0 || p > 1) ArgError(OP, 1, "must be a probability in [0, 1]");
    RET(at::dropout(A_T(0), p, A_BOOL(2)));
  });
}

}  // namespace gdnsq
