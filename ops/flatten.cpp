// flatten: merges dimensions start_dim..end into one, as torch.flatten(x, start_dim).
//
//   y = reshape(x, [x.shape[0], ..., x.shape[start_dim - 1], prod(x.shape[start_dim:])])
//
// inputs   x  activation, any rank >= 1
// output   y  rank start_dim + 1, the same elements in C order
// attrs    start_dim  int  default 1; negative counts from the end (-1 is the last dim);
//                     0 only when the batch is fixed, not symbolic
//
// A reshape is only defined on C-ordered data, but x may arrive blocked (a
// pooling output in nChw16c). Rather than have the engine reorder x to plain
// and then copy, the kernel runs one oneDNN reorder from x's layout straight
// into the output buffer, seen as a plain tensor of x's shape. So flatten
// accepts any input layout and its output is always plain.
#include "ir/attrs.h"
#include "ir/error.h"
#include "ops/common.h"
#include "ops/registry.h"

namespace kiln::ops {

// start_dim in [0, rank), or a kiln::Error naming the node.
static size_t read_start_dim(const ir::Node& node) {
  const int64_t rank = static_cast<int64_t>(node.inputs[0]->shape.size());
  int64_t start = ir::attr_int(node, "start_dim", 1);
  int64_t d = start < 0 ? start + rank : start;
  if (d < 0 || d >= rank)
    throw Error(node.where(), "attribute 'start_dim': expected a dimension of x (rank " +
                                  std::to_string(rank) + "), got " + std::to_string(start));
  return static_cast<size_t>(d);
}

static void validate(const ir::Node& node) {
  ir::check_known_attrs(node, {"start_dim"});
  require_activation(node, 0, "x");
  const ir::Shape& x = node.inputs[0]->shape;
  if (x.empty() || x.size() > 5)
    throw Error(node.where(), "x '" + node.inputs[0]->name + "': expected rank 1 to 5, got shape " +
                                  ir::shape_str(x));
  size_t start = read_start_dim(node);
  if (start == 0 && x[0] == ir::kBatch)
    throw Error(node.where(), "attribute 'start_dim': 0 would merge the symbolic batch of x '" +
                                  node.inputs[0]->name + "' " + ir::shape_str(x) +
                                  " into the other dimensions");
}

static ir::Shape infer_shape(const ir::Node& node) {
  const ir::Shape& x = node.inputs[0]->shape;
  size_t start = read_start_dim(node);
  ir::Shape y(x.begin(), x.begin() + static_cast<std::ptrdiff_t>(start));
  int64_t merged = 1;
  for (size_t d = start; d < x.size(); ++d) merged *= x[d];
  y.push_back(merged);
  return y;
}

namespace {

// A reorder from x's layout into the output buffer viewed as plain x.
class FlattenKernel : public Kernel {
 public:
  FlattenKernel(const dnnl::memory::desc& x, const dnnl::memory::desc& x_plain,
                const dnnl::memory::desc& y, const dnnl::engine& engine)
      : x_(x), x_plain_(x_plain), y_(y), engine_(engine) {
    dnnl::reorder::primitive_desc pd(engine, x, engine, x_plain, make_attr());
    reorder_ = dnnl::reorder(pd);
    scratchpad_ = pd.scratchpad_desc();
  }

  dnnl::memory::desc input_desc(size_t) const override { return x_; }
  dnnl::memory::desc output_desc() const override { return y_; }
  dnnl::memory::desc scratchpad_desc() const override { return scratchpad_; }

  ExecArgs bind(const std::vector<dnnl::memory>& inputs, const dnnl::memory& output,
                const dnnl::memory& scratchpad) const override {
    ExecArgs args;
    args[DNNL_ARG_FROM] = inputs.at(0);
    args[DNNL_ARG_TO] = dnnl::memory(x_plain_, engine_, output.get_data_handle());
    if (scratchpad_.get_size() > 0) args[DNNL_ARG_SCRATCHPAD] = scratchpad;
    return args;
  }

  void execute(dnnl::stream& stream, const ExecArgs& args) const override {
    reorder_.execute(stream, args);
  }

 private:
  dnnl::memory::desc x_, x_plain_, y_, scratchpad_;
  dnnl::engine engine_;
  dnnl::reorder reorder_;
};

}  // namespace

static std::unique_ptr<Kernel> compile(const ir::Node& node, const CompileContext& ctx) {
  return with_node(node, [&]() -> std::unique_ptr<Kernel> {
    return std::make_unique<FlattenKernel>(ctx.input_descs.at(0),
                                           plain_desc(node.inputs[0]->shape),
                                           plain_desc(infer_shape(node)), ctx.engine);
  });
}

void register_flatten(Registry& r) { r.add({"flatten", {1, 1, validate, infer_shape}, compile}); }

}  // namespace kiln::ops
