#include "values.h"

#include "util/gstptr.h"

#include <gst/gst.h>

#include <cerrno>
#include <cmath>
#include <cstring>

namespace livepipe::pipelines {
namespace {

using Wide = __int128;

std::optional<Wide> integer_of(const Scalar &value) {
  if (auto i = std::get_if<int64_t>(&value)) {
    return *i;
  }
  if (auto d = std::get_if<double>(&value)) {
    if (std::trunc(*d) == *d && std::fabs(*d) < 1.8e19) {
      return static_cast<Wide>(*d);
    }
    return std::nullopt;
  }
  if (auto s = std::get_if<std::string>(&value)) {
    gint64 signed_value = 0;
    if (g_ascii_string_to_signed(s->c_str(), 10, G_MININT64, G_MAXINT64, &signed_value, nullptr)) {
      return signed_value;
    }
    guint64 unsigned_value = 0;
    if (g_ascii_string_to_unsigned(s->c_str(), 10, 0, G_MAXUINT64, &unsigned_value, nullptr)) {
      return unsigned_value;
    }
  }
  return std::nullopt;
}

std::optional<double> number_of(const Scalar &value) {
  if (auto i = std::get_if<int64_t>(&value)) {
    return static_cast<double>(*i);
  }
  if (auto d = std::get_if<double>(&value)) {
    return *d;
  }
  if (auto s = std::get_if<std::string>(&value); s && !s->empty()) {
    char *end = nullptr;
    errno = 0;
    double parsed = g_ascii_strtod(s->c_str(), &end);
    if (errno == 0 && *end == '\0' && std::isfinite(parsed)) {
      return parsed;
    }
  }
  return std::nullopt;
}

std::optional<bool> boolean_of(const Scalar &value) {
  if (auto b = std::get_if<bool>(&value)) {
    return *b;
  }
  if (auto i = std::get_if<int64_t>(&value); i && (*i == 0 || *i == 1)) {
    return *i == 1;
  }
  if (auto s = std::get_if<std::string>(&value)) {
    GCharPtr lower(g_ascii_strdown(s->c_str(), -1));
    for (const char *yes : {"true", "yes", "on", "1"}) {
      if (!std::strcmp(lower.get(), yes)) {
        return true;
      }
    }
    for (const char *no : {"false", "no", "off", "0"}) {
      if (!std::strcmp(lower.get(), no)) {
        return false;
      }
    }
  }
  return std::nullopt;
}

std::string wide_text(Wide value) {
  if (value < 0) {
    return "-" + wide_text(-value);
  }
  std::string digits;
  do {
    digits.insert(digits.begin(), static_cast<char>('0' + static_cast<int>(value % 10)));
    value /= 10;
  } while (value > 0);
  return digits;
}

std::string number_text(double value) {
  return to_text(Scalar(value));
}

// min and max of an integer-typed pspec.
bool integer_range(GParamSpec *pspec, Wide *min, Wide *max) {
  if (G_IS_PARAM_SPEC_CHAR(pspec)) {
    *min = G_PARAM_SPEC_CHAR(pspec)->minimum;
    *max = G_PARAM_SPEC_CHAR(pspec)->maximum;
  } else if (G_IS_PARAM_SPEC_UCHAR(pspec)) {
    *min = G_PARAM_SPEC_UCHAR(pspec)->minimum;
    *max = G_PARAM_SPEC_UCHAR(pspec)->maximum;
  } else if (G_IS_PARAM_SPEC_INT(pspec)) {
    *min = G_PARAM_SPEC_INT(pspec)->minimum;
    *max = G_PARAM_SPEC_INT(pspec)->maximum;
  } else if (G_IS_PARAM_SPEC_UINT(pspec)) {
    *min = G_PARAM_SPEC_UINT(pspec)->minimum;
    *max = G_PARAM_SPEC_UINT(pspec)->maximum;
  } else if (G_IS_PARAM_SPEC_LONG(pspec)) {
    *min = G_PARAM_SPEC_LONG(pspec)->minimum;
    *max = G_PARAM_SPEC_LONG(pspec)->maximum;
  } else if (G_IS_PARAM_SPEC_ULONG(pspec)) {
    *min = G_PARAM_SPEC_ULONG(pspec)->minimum;
    *max = G_PARAM_SPEC_ULONG(pspec)->maximum;
  } else if (G_IS_PARAM_SPEC_INT64(pspec)) {
    *min = G_PARAM_SPEC_INT64(pspec)->minimum;
    *max = G_PARAM_SPEC_INT64(pspec)->maximum;
  } else if (G_IS_PARAM_SPEC_UINT64(pspec)) {
    *min = G_PARAM_SPEC_UINT64(pspec)->minimum;
    *max = G_PARAM_SPEC_UINT64(pspec)->maximum;
  } else {
    return false;
  }
  return true;
}

void set_integer(GValue *out, Wide value) {
  switch (G_TYPE_FUNDAMENTAL(G_VALUE_TYPE(out))) {
    case G_TYPE_CHAR:
      g_value_set_schar(out, static_cast<gint8>(value));
      break;
    case G_TYPE_UCHAR:
      g_value_set_uchar(out, static_cast<guchar>(value));
      break;
    case G_TYPE_INT:
      g_value_set_int(out, static_cast<gint>(value));
      break;
    case G_TYPE_UINT:
      g_value_set_uint(out, static_cast<guint>(value));
      break;
    case G_TYPE_LONG:
      g_value_set_long(out, static_cast<glong>(value));
      break;
    case G_TYPE_ULONG:
      g_value_set_ulong(out, static_cast<gulong>(value));
      break;
    case G_TYPE_INT64:
      g_value_set_int64(out, static_cast<gint64>(value));
      break;
    case G_TYPE_UINT64:
      g_value_set_uint64(out, static_cast<guint64>(value));
      break;
    default:
      break;
  }
}

std::string nick_list(GType type, bool flags) {
  std::string out;
  if (flags) {
    auto *klass = static_cast<GFlagsClass *>(g_type_class_ref(type));
    for (guint i = 0; i < klass->n_values; ++i) {
      out += (out.empty() ? "" : ", ") + std::string(klass->values[i].value_nick);
    }
    g_type_class_unref(klass);
  } else {
    auto *klass = static_cast<GEnumClass *>(g_type_class_ref(type));
    for (guint i = 0; i < klass->n_values; ++i) {
      out += (out.empty() ? "" : ", ") + std::string(klass->values[i].value_nick);
    }
    g_type_class_unref(klass);
  }
  return out;
}

bool set_enum(const Scalar &value, GParamSpec *pspec, GValue *out, std::string *why) {
  GType type = G_PARAM_SPEC_VALUE_TYPE(pspec);
  auto *klass = static_cast<GEnumClass *>(g_type_class_ref(type));
  const GEnumValue *found = nullptr;
  if (auto s = std::get_if<std::string>(&value)) {
    found = g_enum_get_value_by_nick(klass, s->c_str());
    if (!found) {
      found = g_enum_get_value_by_name(klass, s->c_str());
    }
  }
  if (!found) {
    if (auto i = integer_of(value)) {
      found = g_enum_get_value(klass, static_cast<gint>(*i));
    }
  }
  if (found) {
    g_value_set_enum(out, found->value);
  }
  g_type_class_unref(klass);
  if (!found) {
    *why = to_display(value) + " is not one of " + nick_list(type, false);
  }
  return found != nullptr;
}

bool deserialize(const std::string &text, GParamSpec *pspec, GValue *out) {
  return gst_value_deserialize_with_pspec(out, text.c_str(), pspec);
}

}  // namespace

bool to_gvalue(const Scalar &value, GParamSpec *pspec, GValue *out, std::string *why) {
  GType type = G_PARAM_SPEC_VALUE_TYPE(pspec);
  const std::string type_name = g_type_name(type);
  g_value_init(out, type);
  bool ok = false;
  switch (G_TYPE_FUNDAMENTAL(type)) {
    case G_TYPE_BOOLEAN:
      if (auto b = boolean_of(value)) {
        g_value_set_boolean(out, *b);
        ok = true;
      } else {
        *why = to_display(value) + " is not a boolean (true/false)";
      }
      break;
    case G_TYPE_CHAR:
    case G_TYPE_UCHAR:
    case G_TYPE_INT:
    case G_TYPE_UINT:
    case G_TYPE_LONG:
    case G_TYPE_ULONG:
    case G_TYPE_INT64:
    case G_TYPE_UINT64: {
      auto integer = integer_of(value);
      Wide min = 0, max = 0;
      integer_range(pspec, &min, &max);
      if (!integer) {
        *why = to_display(value) + " is not an integer (" + type_name + ")";
      } else if (*integer < min || *integer > max) {
        *why = wide_text(*integer) + " is out of range (" + wide_text(min) + " to " +
               wide_text(max) + ")";
      } else {
        set_integer(out, *integer);
        ok = true;
      }
      break;
    }
    case G_TYPE_FLOAT:
    case G_TYPE_DOUBLE: {
      auto number = number_of(value);
      double min = G_IS_PARAM_SPEC_FLOAT(pspec) ? G_PARAM_SPEC_FLOAT(pspec)->minimum
                                                : G_PARAM_SPEC_DOUBLE(pspec)->minimum;
      double max = G_IS_PARAM_SPEC_FLOAT(pspec) ? G_PARAM_SPEC_FLOAT(pspec)->maximum
                                                : G_PARAM_SPEC_DOUBLE(pspec)->maximum;
      if (!number) {
        *why = to_display(value) + " is not a number (" + type_name + ")";
      } else if (*number < min || *number > max) {
        *why = number_text(*number) + " is out of range (" + number_text(min) + " to " +
               number_text(max) + ")";
      } else {
        if (G_TYPE_FUNDAMENTAL(type) == G_TYPE_FLOAT) {
          g_value_set_float(out, static_cast<float>(*number));
        } else {
          g_value_set_double(out, *number);
        }
        ok = true;
      }
      break;
    }
    case G_TYPE_STRING:
      g_value_set_string(out, to_text(value).c_str());
      ok = true;
      break;
    case G_TYPE_ENUM:
      ok = set_enum(value, pspec, out, why);
      break;
    case G_TYPE_FLAGS:
      if (auto i = std::get_if<int64_t>(&value)) {
        g_value_set_flags(out, static_cast<guint>(*i));
        ok = true;
      } else {
        ok = deserialize(to_text(value), pspec, out);
        if (!ok) {
          *why = to_display(value) + " is not a combination of " + nick_list(type, true) +
                 " (join flags with '+')";
        }
      }
      break;
    case G_TYPE_OBJECT:
    case G_TYPE_INTERFACE:
    case G_TYPE_POINTER:
    case G_TYPE_PARAM:
      *why = "takes a " + type_name + ", which a description cannot give";
      break;
    default:
      if (type == GST_TYPE_CAPS) {
        GstCaps *caps = gst_caps_from_string(to_text(value).c_str());
        if (caps) {
          g_value_take_boxed(out, caps);
          ok = true;
        } else {
          *why = to_display(value) + " is not valid caps";
        }
      } else if (type == GST_TYPE_STRUCTURE) {
        GstStructure *structure = gst_structure_from_string(to_text(value).c_str(), nullptr);
        if (structure) {
          g_value_take_boxed(out, structure);
          ok = true;
        } else {
          *why = to_display(value) + " is not a valid structure (name,field=value,...)";
        }
      } else {
        // Fractions ("30/1"), arrays ("<a, b>"), other boxed and GStreamer types.
        ok = deserialize(to_text(value), pspec, out);
        if (!ok) {
          *why = to_display(value) + " cannot be read as " + type_name;
        }
      }
      break;
  }
  if (ok && g_param_value_validate(pspec, out)) {
    *why = to_display(value) + " is out of range for this property (" + describe_pspec(pspec) + ")";
    ok = false;
  }
  if (!ok) {
    g_value_unset(out);
  }
  return ok;
}

std::string describe_pspec(GParamSpec *pspec) {
  GType type = G_PARAM_SPEC_VALUE_TYPE(pspec);
  std::string out = g_type_name(type);
  Wide min = 0, max = 0;
  if (integer_range(pspec, &min, &max)) {
    return out + " " + wide_text(min) + ".." + wide_text(max);
  }
  if (G_IS_PARAM_SPEC_DOUBLE(pspec)) {
    return out + " " + number_text(G_PARAM_SPEC_DOUBLE(pspec)->minimum) + ".." +
           number_text(G_PARAM_SPEC_DOUBLE(pspec)->maximum);
  }
  if (G_IS_PARAM_SPEC_FLOAT(pspec)) {
    return out + " " + number_text(G_PARAM_SPEC_FLOAT(pspec)->minimum) + ".." +
           number_text(G_PARAM_SPEC_FLOAT(pspec)->maximum);
  }
  if (GST_IS_PARAM_SPEC_FRACTION(pspec)) {
    auto *fraction = GST_PARAM_SPEC_FRACTION(pspec);
    return out + " " + std::to_string(fraction->min_num) + "/" + std::to_string(fraction->min_den) +
           ".." + std::to_string(fraction->max_num) + "/" + std::to_string(fraction->max_den);
  }
  if (G_TYPE_FUNDAMENTAL(type) == G_TYPE_ENUM) {
    return out + " (" + nick_list(type, false) + ")";
  }
  if (G_TYPE_FUNDAMENTAL(type) == G_TYPE_FLAGS) {
    return out + " (" + nick_list(type, true) + ")";
  }
  return out;
}

ValueList &ValueList::operator=(ValueList &&other) noexcept {
  if (this != &other) {
    clear();
    names_ = std::move(other.names_);
    values_ = std::move(other.values_);
  }
  return *this;
}

ValueList::~ValueList() {
  clear();
}

void ValueList::clear() {
  for (auto &value : values_) {
    g_value_unset(&value);
  }
  values_.clear();
  names_.clear();
}

void ValueList::add(std::string name, GValue *value) {
  names_.push_back(std::move(name));
  values_.push_back(*value);  // bitwise move: `value` no longer owns its contents
  *value = G_VALUE_INIT;
}

std::vector<const char *> ValueList::names() const {
  std::vector<const char *> out;
  for (const auto &name : names_) {
    out.push_back(name.c_str());
  }
  return out;
}

}  // namespace livepipe::pipelines
