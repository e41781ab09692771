// libFuzzer target for the description loader: the position scanner on any
// bytes, then parsing, includes, params, template expansion and the checks
// against GStreamer's registry (elements are not created: build = false).
#include "loader.h"
#include "positions.h"

#include <gst/gst.h>

#include <cstdint>
#include <cstdlib>
#include <string_view>

namespace {

const livepipe::pipelines::Loader *loader = nullptr;

}  // namespace

extern "C" int LLVMFuzzerInitialize(int *, char ***) {
  gst_init(nullptr, nullptr);
  const char *source = std::getenv("LIVEPIPE_SOURCE_DIR");
  std::filesystem::path presets =
      std::filesystem::path(source ? source : LIVEPIPE_SOURCE_DIR) / "pipelines" / "presets";
  loader = new livepipe::pipelines::Loader({presets});
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string_view text(reinterpret_cast<const char *>(data), size);
  auto positions = livepipe::pipelines::PositionMap::scan(text);
  positions.find("$.elements[0].properties[\"a.b\"]");
  auto result = loader->load_text(
      text, "fuzz.json",
      {.params = {{"location", "x.mp4"}, {"width", "64"}}, .use_examples = true, .build = false});
  for (const auto &problem : result.problems) {
    (void)problem.to_string();
  }
  return 0;
}
