// Description values to GValues of a property's real type, through its
// GParamSpec: numbers with range checks, enums by nick, name or value, flags,
// booleans, caps, fractions, structures and anything GStreamer can
// deserialize from text.
#pragma once

#include "description.h"

#include <glib-object.h>

#include <string>
#include <vector>

namespace livepipe::pipelines {

// Fills `out` (an unset GValue) with `value` converted to `pspec`'s type.
// Returns false and says why ("\"fast\" is not an integer", "7 is out of
// range (0 to 1)") when it cannot.
bool to_gvalue(const Scalar &value, GParamSpec *pspec, GValue *out, std::string *why);

// The type name and range of a property, for messages and `inspect`:
// "uint 0..2048", "enum (ultrafast, superfast, ...)".
std::string describe_pspec(GParamSpec *pspec);

// GValues owned as a contiguous array (for gst_element_factory_make_with_properties).
class ValueList {
 public:
  ValueList() = default;
  ValueList(ValueList &&other) noexcept = default;
  ValueList &operator=(ValueList &&other) noexcept;
  ValueList(const ValueList &) = delete;
  ValueList &operator=(const ValueList &) = delete;
  ~ValueList();

  // Takes over `value` (leaves it unset).
  void add(std::string name, GValue *value);
  size_t size() const { return values_.size(); }
  std::vector<const char *> names() const;
  const GValue *values() const { return values_.data(); }

 private:
  void clear();
  std::vector<std::string> names_;
  std::vector<GValue> values_;
};

}  // namespace livepipe::pipelines
