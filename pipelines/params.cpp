#include "params.h"

#include "suggest.h"

#include <glib.h>

#include <algorithm>
#include <cerrno>
#include <cmath>

namespace livepipe::pipelines {
namespace {

std::optional<int64_t> parse_int(const std::string &text) {
  gint64 value = 0;
  if (!g_ascii_string_to_signed(text.c_str(), 10, G_MININT64, G_MAXINT64, &value, nullptr)) {
    return std::nullopt;
  }
  return value;
}

std::optional<double> parse_double(const std::string &text) {
  if (text.empty()) {
    return std::nullopt;
  }
  char *end = nullptr;
  errno = 0;
  double value = g_ascii_strtod(text.c_str(), &end);
  if (errno != 0 || *end != '\0' || !std::isfinite(value)) {
    return std::nullopt;
  }
  return value;
}

std::optional<bool> parse_bool(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return g_ascii_tolower(c); });
  if (text == "true" || text == "yes" || text == "on" || text == "1") {
    return true;
  }
  if (text == "false" || text == "no" || text == "off" || text == "0") {
    return false;
  }
  return std::nullopt;
}

std::string range_text(const ParamDecl &decl) {
  auto bound = [&](double v) {
    // 2^63: the first double outside int64_t.
    bool int_range = v >= -9223372036854775808.0 && v < 9223372036854775808.0;
    return decl.type == ParamType::kInt && int_range ? std::to_string(static_cast<int64_t>(v))
                                                     : to_text(Scalar(v));
  };
  if (decl.min && decl.max) {
    return bound(*decl.min) + " to " + bound(*decl.max);
  }
  if (decl.min) {
    return "at least " + bound(*decl.min);
  }
  return "at most " + bound(*decl.max);
}

}  // namespace

std::optional<Scalar> coerce_param(const ParamDecl &decl, const Scalar &value, std::string *why) {
  const std::string text = to_text(value);
  const auto fail = [&](std::string message) -> std::optional<Scalar> {
    *why = std::move(message);
    return std::nullopt;
  };
  std::optional<Scalar> typed;
  switch (decl.type) {
    case ParamType::kString:
      typed = Scalar(text);
      break;
    case ParamType::kEnum:
      typed = Scalar(text);
      break;
    case ParamType::kInt:
      if (auto i = std::get_if<int64_t>(&value)) {
        typed = *i;
      } else if (auto d = std::get_if<double>(&value);
                 d && std::trunc(*d) == *d && std::fabs(*d) < 9.2e18) {
        typed = static_cast<int64_t>(*d);
      } else if (auto s = std::get_if<std::string>(&value)) {
        if (auto parsed = parse_int(*s)) {
          typed = *parsed;
        }
      }
      if (!typed) {
        return fail(to_display(value) + " is not an integer");
      }
      break;
    case ParamType::kDouble:
      if (auto i = std::get_if<int64_t>(&value)) {
        typed = static_cast<double>(*i);
      } else if (auto d = std::get_if<double>(&value)) {
        typed = *d;
      } else if (auto s = std::get_if<std::string>(&value)) {
        if (auto parsed = parse_double(*s)) {
          typed = *parsed;
        }
      }
      if (!typed) {
        return fail(to_display(value) + " is not a number");
      }
      break;
    case ParamType::kBool:
      if (auto b = std::get_if<bool>(&value)) {
        typed = *b;
      } else if (auto parsed = parse_bool(text); parsed && !std::holds_alternative<double>(value)) {
        typed = *parsed;
      }
      if (!typed) {
        return fail(to_display(value) + " is not a boolean (true/false, yes/no, on/off, 1/0)");
      }
      break;
  }
  if (decl.min || decl.max) {
    double number = std::holds_alternative<int64_t>(*typed)
                        ? static_cast<double>(std::get<int64_t>(*typed))
                    : std::holds_alternative<double>(*typed) ? std::get<double>(*typed)
                                                             : 0.0;
    if ((decl.min && number < *decl.min) || (decl.max && number > *decl.max)) {
      return fail(to_text(*typed) + " is out of range (" + range_text(decl) + ")");
    }
  }
  if (!decl.values.empty()) {
    std::string canonical = to_text(*typed);
    if (std::find(decl.values.begin(), decl.values.end(), canonical) == decl.values.end()) {
      return fail(to_display(*typed) + " is not one of " + quoted_list(decl.values) +
                  closest_hint(canonical, decl.values));
    }
  }
  return typed;
}

Scope Scope::resolve(const GraphDecl &graph, const std::vector<GivenParam> &given,
                     const Origin &missing_at, bool use_examples, Problems &problems) {
  Scope scope;
  scope.owner_ = graph.name;
  std::vector<std::string> declared;
  for (const auto &decl : graph.params) {
    declared.push_back(decl.name);
  }
  for (const auto &value : given) {
    if (!graph.param(value.name)) {
      std::string known =
          declared.empty() ? "it has no params" : "its params are " + quoted_list(declared);
      problems.add(value.origin, "unknown param '" + value.name + "' for '" + graph.name + "'" +
                                     closest_hint(value.name, declared) + "; " + known);
    }
  }
  for (const auto &decl : graph.params) {
    auto found = std::find_if(given.begin(), given.end(),
                              [&](const GivenParam &g) { return g.name == decl.name; });
    std::optional<Scalar> value;
    if (found != given.end()) {
      std::string why;
      value = coerce_param(decl, found->value, &why);
      if (!value) {
        problems.add(found->origin, "param '" + decl.name + "': " + why);
      }
    } else if (decl.default_value) {
      value = decl.default_value;
    } else if (decl.required) {
      if (use_examples) {
        std::string why;
        Scalar stand_in = std::string("example");
        if (decl.example) {
          stand_in = *decl.example;
        } else if (!decl.values.empty()) {
          stand_in = decl.values.front();
        } else if (decl.type == ParamType::kBool) {
          stand_in = false;
        } else if (decl.type != ParamType::kString) {
          stand_in = decl.min ? *decl.min : decl.max && *decl.max < 0 ? *decl.max : 0.0;
        }
        value = coerce_param(decl, stand_in, &why);
      } else {
        problems.add(missing_at, "missing required param '" + decl.name + "' for '" + graph.name +
                                     "': " + decl.doc);
      }
    }
    scope.values_[decl.name] = std::move(value);
  }
  return scope;
}

Substituted Scope::substitute(const Scalar &raw, const Origin &origin, Problems &problems) const {
  const std::string *text = std::get_if<std::string>(&raw);
  if (!text || text->find('$') == std::string::npos) {
    return Substituted{raw};
  }
  std::string out;
  std::optional<Scalar> whole;  // set when the text is exactly one ${name}
  size_t i = 0;
  while (i < text->size()) {
    char c = (*text)[i];
    if (c != '$') {
      out += c;
      ++i;
      continue;
    }
    if (text->compare(i, 3, "$${") == 0) {
      out += "${";
      i += 3;
      continue;
    }
    if (text->compare(i, 2, "${") != 0) {
      out += c;
      ++i;
      continue;
    }
    size_t close = text->find('}', i + 2);
    if (close == std::string::npos) {
      problems.add(origin, "unterminated '${' in " + to_display(raw));
      return {};
    }
    std::string name = text->substr(i + 2, close - i - 2);
    auto found = values_.find(name);
    if (found == values_.end()) {
      std::vector<std::string> declared;
      for (const auto &[known, value] : values_) {
        declared.push_back(known);
      }
      problems.add(origin, "unknown param '${" + name + "}': '" + owner_ +
                               "' declares no such param" + closest_hint(name, declared));
      return {};
    }
    bool is_whole = i == 0 && close + 1 == text->size();
    if (!found->second) {
      if (is_whole) {
        return Substituted{std::nullopt, true};
      }
      problems.add(origin, "param '" + name + "' has no value (give one or declare a default)");
      return {};
    }
    if (is_whole) {
      whole = found->second;
    }
    out += to_text(*found->second);
    i = close + 1;
  }
  if (whole) {
    return Substituted{whole};
  }
  return Substituted{Scalar(std::move(out))};
}

std::optional<std::string> Scope::substitute_text(const std::string &raw, const Origin &origin,
                                                  Problems &problems) const {
  Substituted result = substitute(Scalar(raw), origin, problems);
  if (result.unset) {
    problems.add(origin, "'" + raw + "' has no value (give the param one or declare a default)");
    return std::nullopt;
  }
  if (!result.value) {
    return std::nullopt;
  }
  return to_text(*result.value);
}

}  // namespace livepipe::pipelines
