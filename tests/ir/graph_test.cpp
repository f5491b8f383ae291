// ir::Graph's rewrites (replace_all_uses, set_input, set_inputs, erase_node), the methods
// the passes share (is_output, nodes_of_op, user_names), clone() and the
// print() dump.
#include "ir/graph.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "ir/error.h"
#include "ir/verify.h"
#include "tests/ir/tiny_ops.h"

using namespace kiln;
using kiln::test::tiny_ops;

namespace {

// x -> a -> b, with a also read by c; the graph returns b and c.
struct Chain {
  ir::Graph g;
  ir::Value* x;
  ir::Node *a, *b, *c;
};

Chain chain() {
  Chain t;
  t.x = t.g.add_input("x", {ir::kBatch, 2});
  t.a = t.g.add_node("a", "id", {t.x});
  t.b = t.g.add_node("b", "id", {t.a->output});
  t.c = t.g.add_node("c", "id", {t.a->output});
  t.g.set_outputs({t.b->output, t.c->output});
  ir::infer_shapes(t.g, tiny_ops());
  return t;
}

std::vector<std::string> names(const std::vector<ir::Node*>& nodes) {
  std::vector<std::string> out;
  for (const ir::Node* n : nodes) out.push_back(n->name);
  return out;
}

}  // namespace

TEST_CASE("graph: erase_node refuses a node whose output still has users") {
  Chain t = chain();
  CHECK_THROWS_WITH_AS(t.g.erase_node(t.a), "node 'a' (id): cannot erase: its output still has 2 user(s)",
                       Error);
  CHECK(t.g.find_node("a") == t.a);
  CHECK(t.x->users.size() == 1);
}

TEST_CASE("graph: erase_node refuses a node whose output is a graph output") {
  Chain t = chain();
  CHECK_THROWS_WITH_AS(t.g.erase_node(t.b), "node 'b' (id): cannot erase: its output is a graph output",
                       Error);
  CHECK(t.g.find_node("b") == t.b);
}

TEST_CASE("graph: erase_node removes an unused node and its output, and drops it from its inputs' users") {
  Chain t = chain();
  ir::Node* d = t.g.add_node("d", "id", {t.a->output});
  REQUIRE(t.a->output->users.size() == 3);
  t.g.erase_node(d);
  CHECK(t.g.find_node("d") == nullptr);
  CHECK(t.g.find_value("d") == nullptr);
  CHECK(names(t.a->output->users) == std::vector<std::string>{"b", "c"});
  ir::verify(t.g, tiny_ops());
}

TEST_CASE("graph: replace_all_uses moves every use, repeated ones and graph outputs included") {
  ir::Graph g;
  ir::Value* x = g.add_input("x", {ir::kBatch, 2});
  ir::Value* y = g.add_input("y", {ir::kBatch, 2});
  ir::Node* a = g.add_node("a", "id", {x});
  ir::Node* twice = g.add_node("twice", "pair", {a->output, a->output});
  ir::Node* other = g.add_node("other", "pair", {y, a->output});
  g.set_outputs({a->output, twice->output});
  ir::infer_shapes(g, tiny_ops());

  g.replace_all_uses(a->output, y);
  CHECK(twice->inputs == std::vector<ir::Value*>{y, y});
  CHECK(other->inputs == std::vector<ir::Value*>{y, y});
  CHECK(a->output->users.empty());
  // One entry per use: other's own use of y, then the three moved over.
  CHECK(names(y->users) == std::vector<std::string>{"other", "twice", "twice", "other"});
  CHECK(g.outputs() == std::vector<ir::Value*>{y, twice->output});
  g.erase_node(a);  // nothing uses it now
  ir::verify(g, tiny_ops());
}

TEST_CASE("graph: replace_all_uses of a value by itself changes nothing") {
  Chain t = chain();
  t.g.replace_all_uses(t.a->output, t.a->output);
  CHECK(names(t.a->output->users) == std::vector<std::string>{"b", "c"});
  ir::verify(t.g, tiny_ops());
}

TEST_CASE("graph: set_input rewires one input and both user lists; a missing input is an error") {
  Chain t = chain();
  t.g.set_input(t.c, 0, t.x);
  CHECK(t.c->inputs[0] == t.x);
  CHECK(names(t.a->output->users) == std::vector<std::string>{"b"});
  CHECK(names(t.x->users) == std::vector<std::string>{"a", "c"});
  ir::verify(t.g, tiny_ops());
  CHECK_THROWS_WITH_AS(t.g.set_input(t.c, 1, t.x), "node 'c' (id): set_input: no input 1", Error);
}

TEST_CASE("graph: set_inputs replaces every input, keeping the user lists, a value twice included") {
  Chain t = chain();
  ir::Node* p = t.g.add_node("p", "pair", {t.a->output, t.x});
  t.g.set_inputs(p, {t.x, t.x});
  CHECK(p->inputs == std::vector<ir::Value*>{t.x, t.x});
  CHECK(names(t.a->output->users) == std::vector<std::string>{"b", "c"});
  CHECK(names(t.x->users) == std::vector<std::string>{"a", "p", "p"});
  t.g.set_inputs(p, {t.a->output, t.x});
  CHECK(names(t.a->output->users) == std::vector<std::string>{"b", "c", "p"});
  CHECK(names(t.x->users) == std::vector<std::string>{"a", "p"});
  ir::infer_shapes(t.g, tiny_ops());
  ir::verify(t.g, tiny_ops());
}

TEST_CASE("graph: is_output, nodes_of_op and user_names answer the passes' questions") {
  Chain t = chain();
  t.g.add_node("p", "pair", {t.a->output, t.x});
  CHECK(t.g.is_output(t.b->output));
  CHECK_FALSE(t.g.is_output(t.a->output));
  CHECK(names(t.g.nodes_of_op("id")) == std::vector<std::string>{"a", "b", "c"});
  CHECK(t.g.nodes_of_op("conv2d").empty());
  CHECK(t.a->output->user_names() == "b, c, p");
  CHECK(t.a->output->user_names(t.c) == "b, p");
  // A copy: erasing a node while walking the list is safe.
  for (ir::Node* n : t.g.nodes_of_op("pair")) t.g.erase_node(n);
  CHECK(t.g.find_node("p") == nullptr);
}

TEST_CASE("graph: unique_name appends the first free _N") {
  Chain t = chain();
  CHECK(t.g.unique_name("z") == "z");
  CHECK(t.g.unique_name("a") == "a_1");
  t.g.add_input("a_1", {1});
  CHECK(t.g.unique_name("a") == "a_2");
}

TEST_CASE("graph: print gives one stable line per node, attributes sorted by key") {
  ir::Graph g;
  ir::Value* x = g.add_input("x", {ir::kBatch, 2, 3, 3});
  ir::Tensor w({2});
  ir::Node* a = g.add_node(
      "a", "id", {x, g.add_param("a.w", w)},
      {{"stride", std::vector<int64_t>{1, 2}}, {"mode", std::string("fast")}, {"alpha", 0.5},
       {"groups", int64_t(1)}});
  ir::Node* b = g.add_node("b", "id", {a->output});
  g.set_outputs({b->output, a->output});
  ir::infer_shapes(g, tiny_ops());

  const std::string want =
      "input %x : [N, 2, 3, 3]\n"
      "%a = id(%x, $a.w) {alpha=0.5, groups=1, mode=\"fast\", stride=[1, 2]} : [N, 2, 3, 3]\n"
      "%b = id(%a) : [N, 2, 3, 3]\n"
      "return %b, %a\n";
  CHECK(ir::print(g) == want);
  CHECK(ir::print(g) == want);
  CHECK(ir::print(g.clone()) == want);
}

TEST_CASE("graph: clone copies nodes and values, and shares parameter data") {
  Chain t = chain();
  ir::Value* w = t.g.add_param("w", ir::Tensor({2}));
  t.g.add_input_to(t.b, w);
  ir::Graph copy = t.g.clone();
  ir::verify(copy, tiny_ops());
  CHECK(copy.find_node("a") != t.a);
  CHECK(copy.find_value("w")->data.get() == w->data.get());
  copy.set_outputs({copy.find_value("c")});
  copy.erase_node(copy.find_node("b"));
  CHECK(copy.nodes().size() == 2);
  CHECK(t.g.nodes().size() == 3);
  ir::verify(t.g, tiny_ops());
}
