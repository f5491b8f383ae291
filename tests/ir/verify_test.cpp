// ir::verify(), one case per invariant it checks: each breaks a valid graph
// in one place and expects the error that names it. And infer_shapes().
#include "ir/verify.h"

#include <doctest/doctest.h>

#include <string>

#include "ir/error.h"
#include "tests/ir/tiny_ops.h"

using namespace kiln;
using kiln::test::tiny_ops;

namespace {

// x, w -> a = id(x, w) -> b = id(a); returns b. Valid, shapes inferred.
struct Small {
  ir::Graph g;
  ir::Value *x, *w;
  ir::Node *a, *b;
};

Small small() {
  Small t;
  t.x = t.g.add_input("x", {ir::kBatch, 2});
  t.w = t.g.add_param("w", ir::Tensor({2}));
  t.a = t.g.add_node("a", "id", {t.x, t.w});
  t.b = t.g.add_node("b", "id", {t.a->output});
  t.g.set_outputs({t.b->output});
  ir::infer_shapes(t.g, tiny_ops());
  return t;
}

// verify()'s message, or "" if it passes.
std::string verify_error(const ir::Graph& g) {
  try {
    ir::verify(g, tiny_ops());
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("verify passes a valid graph") {
  Small t = small();
  CHECK(verify_error(t.g) == "");
}

TEST_CASE("verify: a graph input with a producer") {
  Small t = small();
  t.x->producer = t.a;
  CHECK(verify_error(t.g) == "verify: graph input 'x' has a producer");
}

TEST_CASE("verify: a name used twice") {
  Small t = small();
  t.g.add_input("w", {1});
  CHECK(verify_error(t.g) == "verify: parameter 'w': name is used twice");
  Small u = small();
  u.b->name = "x";
  u.b->output->name = "x";
  CHECK(verify_error(u.g) == "verify: node 'x': name is used twice");
}

TEST_CASE("verify: a parameter with a producer") {
  Small t = small();
  t.w->producer = t.a;
  CHECK(verify_error(t.g) == "verify: parameter 'w' has a producer");
}

TEST_CASE("verify: a parameter whose data does not match its shape") {
  Small t = small();
  t.w->shape = {3};
  CHECK(verify_error(t.g) == "verify: parameter 'w': data does not match its shape [3]");
}

TEST_CASE("verify: an unknown op") {
  Small t = small();
  t.b->op = "conv9d";
  CHECK(verify_error(t.g) == "node 'b' (conv9d): unknown op 'conv9d'");
}

TEST_CASE("verify: an input count outside the op's range") {
  Small t = small();
  t.g.add_input_to(t.b, t.x);
  t.g.add_input_to(t.b, t.x);
  CHECK(verify_error(t.g) == "node 'b' (id): expected 1 to 2 inputs, got 3");
  Small u = small();
  u.b->op = "pair";
  CHECK(verify_error(u.g) == "node 'b' (pair): expected 2 inputs, got 1");
}

TEST_CASE("verify: a null input") {
  Small t = small();
  t.b->inputs[0] = nullptr;
  CHECK(verify_error(t.g) == "node 'b' (id): input 0 is null");
}

TEST_CASE("verify: an input used before the node that defines it") {
  Small t = small();
  t.g.set_input(t.a, 0, t.b->output);
  CHECK(verify_error(t.g) == "node 'a' (id): input 0 'b' is used before it is defined");
}

TEST_CASE("verify: a user list that misses a use") {
  Small t = small();
  t.x->users.clear();
  CHECK(verify_error(t.g) == "node 'a' (id): value 'x' does not list this node as a user 1 time(s)");
}

TEST_CASE("verify: a node whose output does not name it as producer") {
  Small t = small();
  t.b->output->producer = t.a;
  CHECK(verify_error(t.g) == "node 'b' (id): its output does not name it as producer");
}

TEST_CASE("verify: a node whose output is named otherwise") {
  Small t = small();
  t.b->output->name = "y";
  CHECK(verify_error(t.g) == "node 'b' (id): output value is named 'y'");
}

TEST_CASE("verify: a node its op's validate refuses") {
  Small t = small();
  t.b->attrs["bad"] = int64_t(1);
  CHECK(verify_error(t.g) == "node 'b' (id): attribute 'bad' is refused");
}

TEST_CASE("verify: a stored shape that differs from the inferred one") {
  Small t = small();
  t.a->output->shape = {ir::kBatch, 3};
  CHECK(verify_error(t.g) == "node 'a' (id): output shape [N, 3] differs from the inferred [N, 2]");
}

TEST_CASE("verify: an output past the size limit or with a negative dimension") {
  Small t = small();
  t.x->shape = {ir::kBatch, int64_t(1) << 16, int64_t(1) << 16};
  CHECK(verify_error(t.g) == "node 'a' (id): output shape [N, 65536, 65536] has more than " +
                                 std::to_string(ir::kMaxActivationElements) +
                                 " elements per sample, the limit");
  Small u = small();
  u.x->shape = {ir::kBatch, -2};
  CHECK(verify_error(u.g) == "node 'a' (id): output shape [N, -2] has a negative dimension");
}

TEST_CASE("verify: a user listed that does not use the value") {
  Small t = small();
  t.w->users.push_back(t.b);
  CHECK(verify_error(t.g) == "verify: value 'w' lists 'b' as a user, but that node does not use it");
}

TEST_CASE("verify: a graph without outputs") {
  Small t = small();
  t.g.set_outputs({});
  CHECK(verify_error(t.g) == "verify: the graph has no outputs");
}

TEST_CASE("verify: a graph output that is not defined in the graph") {
  Small t = small();
  Small other = small();
  t.g.set_outputs({other.b->output});
  CHECK(verify_error(t.g) == "verify: graph output 'b' is not defined");
}

TEST_CASE("infer_shapes sets each output shape, and stops at the first node validate refuses") {
  Small t = small();
  t.a->output->shape.clear();
  t.b->output->shape.clear();
  ir::infer_shapes(t.g, tiny_ops());
  CHECK(t.b->output->shape == ir::Shape{ir::kBatch, 2});
  t.a->attrs["bad"] = int64_t(1);
  CHECK_THROWS_WITH_AS(ir::infer_shapes(t.g, tiny_ops()), "node 'a' (id): attribute 'bad' is refused",
                       Error);
}
