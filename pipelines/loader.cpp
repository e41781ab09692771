#include "loader.h"

#include "build.h"
#include "check.h"
#include "expand.h"
#include "params.h"

#include <algorithm>
#include <tuple>

namespace livepipe::pipelines {

Loader::Loader(std::vector<std::filesystem::path> include_dirs)
    : include_dirs_(std::move(include_dirs)) {}

LoadResult Loader::load_file(const std::filesystem::path &file, const LoadOptions &options) const {
  Problems problems;
  DocumentPtr doc = read_document(file, problems);
  return load(doc, problems, options);
}

LoadResult Loader::load_text(std::string_view text, const std::string &file_name,
                             const LoadOptions &options) const {
  Problems problems;
  DocumentPtr doc = parse_document(text, file_name, problems);
  return load(doc, problems, options);
}

LoadResult Loader::load(const DocumentPtr &doc, Problems &problems,
                        const LoadOptions &options) const {
  LoadResult result;
  if (!doc) {
    result.problems = problems.take();
    return result;
  }
  DescriptionDecl description = parse_description(doc, problems);
  if (description.elements.empty() && problems.empty()) {
    problems.add(Origin{doc, "$"},
                 "'" + description.name + "' only defines templates; it is not a pipeline");
  }
  Library library = load_library(description, include_dirs_, problems);
  std::vector<GivenParam> given;
  Origin params_at{doc, path_member(kRootPath, "params")};
  for (const auto &[name, value] : options.params) {
    // A value is reported at its param's declaration, when there is one.
    Origin at =
        description.param(name) ? Origin{doc, path_member(params_at.path, name)} : params_at;
    given.push_back(GivenParam{name, Scalar(value), at});
  }
  Scope scope = Scope::resolve(description, given, params_at, options.use_examples, problems);
  auto plan = std::make_unique<Plan>(expand(description, scope, library, problems));
  CheckedPlan checked = check(std::move(plan), problems);
  if (problems.empty() && options.build) {
    result.pipeline = build(checked, problems);
  }
  result.problems = problems.take();
  // In reading order, file by file, whatever phase found them.
  std::stable_sort(result.problems.begin(), result.problems.end(),
                   [](const Problem &a, const Problem &b) {
                     return std::tie(a.file, a.line, a.column) < std::tie(b.file, b.line, b.column);
                   });
  return result;
}

}  // namespace livepipe::pipelines
