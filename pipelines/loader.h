// Loading pipeline descriptions (docs/pipeline-format.md).
//
//   pipelines::Loader loader({presets_dir});
//   auto result = loader.load_file("presets/webrtc-publish-fanout.json",
//                                  {.params = {{"stun-server", "stun://..."}}});
//   if (!result.ok()) { for (auto &p : result.problems) puts(p.to_string()); }
//   GstElement *pipeline = result.pipeline->element();
//   pipelines::Slot *video = result.pipeline->slot("video-rtp");
//   auto branch = video->attach(viewer_bin, &error);   // while PLAYING
//   video->detach(branch);
//
// Loading checks everything before anything is built and reports every
// problem, each with its file, JSON path, line and column.
#pragma once

#include "description.h"
#include "pipeline.h"

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace livepipe::pipelines {

struct LoadOptions {
  // Param values as text (as given with -p name=value); converted to each
  // param's type.
  std::map<std::string, std::string> params;
  // Required params without a value take their example (or a neutral value
  // of their type): for checking a description on its own.
  bool use_examples = false;
  // False: check only, create no element (result.pipeline stays null).
  bool build = true;
};

struct LoadResult {
  std::unique_ptr<Pipeline> pipeline;  // null when there are problems or build = false
  std::vector<Problem> problems;
  bool ok() const { return problems.empty(); }
};

class Loader {
 public:
  // `include_dirs` are searched for includes after the including file's own
  // directory (typically the presets directory).
  explicit Loader(std::vector<std::filesystem::path> include_dirs = {});

  LoadResult load_file(const std::filesystem::path &file, const LoadOptions &options = {}) const;
  // `file_name` names the text in problems and anchors relative includes.
  LoadResult load_text(std::string_view text, const std::string &file_name,
                       const LoadOptions &options = {}) const;

 private:
  LoadResult load(const DocumentPtr &doc, Problems &problems, const LoadOptions &options) const;
  std::vector<std::filesystem::path> include_dirs_;
};

}  // namespace livepipe::pipelines
