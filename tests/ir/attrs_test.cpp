// ir/attrs.h: typed attribute access, the fallback when absent, and the
// error naming node, attribute, expected and got when the type is wrong.
#include "ir/attrs.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "ir/error.h"

using namespace kiln;

namespace {

ir::Node node_with(ir::Attrs attrs) {
  ir::Node n;
  n.name = "conv1";
  n.op = "conv2d";
  n.attrs = std::move(attrs);
  return n;
}

using Ints = std::vector<int64_t>;

}  // namespace

TEST_CASE("attrs: each accessor returns the attribute, or the fallback when it is absent") {
  ir::Node n = node_with({{"groups", int64_t(2)}, {"eps", 1e-3}, {"stride", Ints{2, 1}},
                          {"activation", std::string("relu")}});
  CHECK(ir::attr_int(n, "groups", 1) == 2);
  CHECK(ir::attr_real(n, "eps", 1e-5) == 1e-3);
  CHECK(ir::attr_ints(n, "stride", {1, 1}) == Ints{2, 1});
  CHECK(ir::attr_string(n, "activation", "none") == "relu");
  ir::Node empty = node_with({});
  CHECK(ir::attr_int(empty, "groups", 1) == 1);
  CHECK(ir::attr_real(empty, "eps", 1e-5) == 1e-5);
  CHECK(ir::attr_ints(empty, "stride", {1, 1}) == Ints{1, 1});
  CHECK(ir::attr_string(empty, "activation", "none") == "none");
}

TEST_CASE("attrs: attr_real accepts an integer") {
  CHECK(ir::attr_real(node_with({{"eps", int64_t(3)}}), "eps", 1e-5) == 3.0);
}

TEST_CASE("attrs: a wrong type is an error naming node, attribute, expected and got") {
  ir::Node n = node_with({{"groups", Ints{1, 2}}, {"stride", int64_t(2)}, {"eps", std::string("x")},
                          {"activation", 0.5}});
  CHECK_THROWS_WITH_AS(ir::attr_int(n, "groups", 1),
                       "node 'conv1' (conv2d): attribute 'groups': expected an integer, got [1, 2]",
                       Error);
  CHECK_THROWS_WITH_AS(ir::attr_ints(n, "stride", {}),
                       "node 'conv1' (conv2d): attribute 'stride': expected a list of integers, got 2",
                       Error);
  CHECK_THROWS_WITH_AS(ir::attr_real(n, "eps", 0),
                       "node 'conv1' (conv2d): attribute 'eps': expected a number, got \"x\"", Error);
  CHECK_THROWS_WITH_AS(ir::attr_string(n, "activation", ""),
                       "node 'conv1' (conv2d): attribute 'activation': expected a string, got 0.5",
                       Error);
}

TEST_CASE("attrs: attr_ints_checked wants the count, the minimum and at most 2^20") {
  ir::Node n = node_with({{"stride", Ints{0, 1}}, {"padding", Ints{0, 1}}, {"kernel", Ints{3}},
                          {"dilation", Ints{1, (1 << 20) + 1}}});
  CHECK_THROWS_WITH_AS(
      ir::attr_ints_checked(n, "stride", 2, 1, {1, 1}),
      "node 'conv1' (conv2d): attribute 'stride': expected 2 positive integers, got [0, 1]", Error);
  CHECK(ir::attr_ints_checked(n, "padding", 2, 0, {0, 0}) == Ints{0, 1});
  CHECK_THROWS_WITH_AS(
      ir::attr_ints_checked(n, "kernel", 2, 1, {1, 1}),
      "node 'conv1' (conv2d): attribute 'kernel': expected 2 positive integers, got [3]", Error);
  CHECK_THROWS_WITH_AS(ir::attr_ints_checked(n, "dilation", 2, 0, {1, 1}),
                       "node 'conv1' (conv2d): attribute 'dilation': expected 2 non-negative "
                       "integers, got [1, 1048577]",
                       Error);
  CHECK(ir::attr_ints_checked(n, "absent", 2, 1, {1, 1}) == Ints{1, 1});
}

TEST_CASE("attrs: check_known_attrs names an unknown attribute and the known ones") {
  ir::Node n = node_with({{"strides", Ints{1, 1}}});
  CHECK_THROWS_WITH_AS(ir::check_known_attrs(n, {"stride", "padding"}),
                       "node 'conv1' (conv2d): unknown attribute 'strides' (known: stride, padding)",
                       Error);
  CHECK_THROWS_WITH_AS(ir::check_known_attrs(n, {}),
                       "node 'conv1' (conv2d): unknown attribute 'strides' (known: none)", Error);
  CHECK_NOTHROW(ir::check_known_attrs(n, {"padding", "strides"}));
}

TEST_CASE("attrs: attr_str prints each kind as the text dump does") {
  CHECK(ir::attr_str(ir::Attr(int64_t(-3))) == "-3");
  CHECK(ir::attr_str(ir::Attr(1e-5)) == "1e-05");
  CHECK(ir::attr_str(ir::Attr(Ints{})) == "[]");
  CHECK(ir::attr_str(ir::Attr(Ints{1, 2})) == "[1, 2]");
  CHECK(ir::attr_str(ir::Attr(std::string("relu"))) == "\"relu\"");
}
