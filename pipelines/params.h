// Params: typed values given to a description (or to a template instance) and
// ${param} substitution in property values, factories and caps.
#pragma once

#include "description.h"

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace livepipe::pipelines {

// Converts `value` to `decl`'s type (text "42" to an int, "yes" to true, ...)
// and checks min/max and the allowed values. Returns nullopt and says why.
std::optional<Scalar> coerce_param(const ParamDecl &decl, const Scalar &value, std::string *why);

// A value given for a param, and where it was given.
struct GivenParam {
  std::string name;
  Scalar value;
  Origin origin;
};

// The outcome of substituting one value.
struct Substituted {
  std::optional<Scalar> value;  // the result, or
  bool unset = false;           // the value was exactly "${p}" and p has no value: leave it out
  // (neither: a problem was reported)
};

// The params in effect while expanding one graph.
class Scope {
 public:
  // Takes each declared param's value from `given`, else its default; a
  // required one without either is a problem unless `use_examples` is set,
  // when its example (or a neutral value of its type) stands in. Values given
  // for undeclared params are problems. `missing_at` is where a missing value
  // is reported.
  static Scope resolve(const GraphDecl &graph, const std::vector<GivenParam> &given,
                       const Origin &missing_at, bool use_examples, Problems &problems);

  // Replaces ${name} in strings; "$${" stands for a literal "${". A value
  // that is exactly "${name}" keeps the param's type; otherwise the result is
  // text. Non-strings pass unchanged.
  Substituted substitute(const Scalar &raw, const Origin &origin, Problems &problems) const;
  // Substitution where the result must be text (factories, caps).
  std::optional<std::string> substitute_text(const std::string &raw, const Origin &origin,
                                             Problems &problems) const;

  const std::map<std::string, std::optional<Scalar>> &values() const { return values_; }

 private:
  std::string owner_;  // "description 'x'" / "template 'y'", for messages
  std::map<std::string, std::optional<Scalar>> values_;  // declared params; nullopt = no value
};

}  // namespace livepipe::pipelines
