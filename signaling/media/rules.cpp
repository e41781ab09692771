#include "rules.h"

#include "description.h"
#include "loader.h"

#include <glib.h>

namespace livepipe::signaling::media {
namespace {

// Params whose values the server owns: a client must not point the stream's
// ICE agent at a server of its choosing or claim another codec.
bool server_owned(const std::string &name) {
  return name == kVideoCodecParam || name == "stun-server" || name == "turn-server" ||
         moderation_param(name);
}

std::optional<bool> parse_switch(const std::string &value) {
  for (const char *on : {"on", "true", "yes", "1"}) {
    if (g_ascii_strcasecmp(value.c_str(), on) == 0) {
      return true;
    }
  }
  for (const char *off : {"off", "false", "no", "0"}) {
    if (g_ascii_strcasecmp(value.c_str(), off) == 0) {
      return false;
    }
  }
  return std::nullopt;
}

std::string problems_text(const std::vector<pipelines::Problem> &problems) {
  std::string out;
  for (const auto &problem : problems) {
    out += (out.empty() ? "" : "; ") + problem.message;
  }
  return out;
}

// Which server-set params the description declares.
void declared_params(const pipelines::DescriptionDecl &description, DescriptionChoice &choice) {
  for (const auto &param : description.params) {
    if (moderation_param(param.name)) {
      choice.declared.insert(param.name);
    }
  }
}

// The video codecs a description takes from its publisher.
void read_codecs(const std::filesystem::path &file, DescriptionChoice &choice) {
  pipelines::Problems problems;
  pipelines::DocumentPtr doc = pipelines::read_document(file, problems);
  choice.video_codecs = {Codec::kH264};
  if (!doc) {
    return;  // the load that follows reports why
  }
  pipelines::DescriptionDecl description = pipelines::parse_description(doc, problems);
  const pipelines::ParamDecl *param = description.param(kVideoCodecParam);
  choice.moderated = description.param("moderation-hook") != nullptr;
  declared_params(description, choice);
  if (!description.param(kVideoCodecParam)) {
    return;
  }
  choice.sets_video_codec = true;
  choice.video_codecs.clear();
  for (const auto &value : param->values) {
    for (Codec codec : {Codec::kH264, Codec::kVP8}) {
      if (value == codec_param_value(codec)) {
        choice.video_codecs.push_back(codec);
      }
    }
  }
}

}  // namespace

bool moderation_param(const std::string &name) {
  return name.rfind("moderation-", 0) == 0 || name == "stream-id";
}

std::filesystem::path resolve_description(const std::string &name_or_file,
                                          const std::filesystem::path &presets_dir) {
  std::filesystem::path path = name_or_file;
  return path.has_extension() ? path : presets_dir / (name_or_file + ".json");
}

std::string codec_param_value(Codec codec) {
  return codec == Codec::kVP8 ? "vp8" : codec == Codec::kH264 ? "h264" : "opus";
}

DescriptionChooser::DescriptionChooser(std::filesystem::path fallback, std::filesystem::path beauty,
                                       std::vector<DescriptionRule> rules,
                                       std::vector<std::filesystem::path> include_dirs)
    : fallback_(std::move(fallback)),
      beauty_(std::move(beauty)),
      rules_(std::move(rules)),
      include_dirs_(std::move(include_dirs)) {}

void DescriptionChooser::set_moderation(std::filesystem::path description,
                                        std::map<std::string, std::string> defaults) {
  moderated_ = std::move(description);
  moderation_defaults_ = std::move(defaults);
}

std::variant<DescriptionChoice, std::string> DescriptionChooser::choose(
    const std::string &stream, const std::map<std::string, std::string> &query) const {
  DescriptionChoice choice;
  choice.file = fallback_;
  bool beauty = false;
  if (auto it = query.find("beauty"); it != query.end()) {
    auto on = parse_switch(it->second);
    if (!on) {
      return "beauty takes on or off, not \"" + it->second + "\"";
    }
    beauty = *on;
  }
  if (beauty && beauty_.empty()) {
    return std::string("this server has no processed description for beauty=on");
  }
  bool moderation = false;
  if (auto it = query.find("moderation"); it != query.end()) {
    auto on = parse_switch(it->second);
    if (!on) {
      return "moderation takes on or off, not \"" + it->second + "\"";
    }
    moderation = *on;
  }
  if (moderation && beauty) {
    return std::string("beauty=on and moderation=on cannot be combined: choose one");
  }
  if (moderation && moderated_.empty()) {
    return std::string("this server has no moderated description for moderation=on");
  }
  if (beauty) {
    choice.file = beauty_;
  } else if (moderation) {
    choice.file = moderated_;
  } else {
    for (const auto &rule : rules_) {
      if (g_pattern_match_simple(rule.match.c_str(), stream.c_str())) {
        choice.file = rule.file;
        choice.params = rule.params;
        break;
      }
    }
  }
  read_codecs(choice.file, choice);
  // The configuration's moderation settings, where the rule set none.
  for (const auto &[name, value] : moderation_defaults_) {
    if (choice.declared.count(name) && !choice.params.count(name)) {
      choice.params[name] = value;
    }
  }
  if (choice.declared.count("stream-id")) {
    choice.params["stream-id"] = stream;
  }
  bool from_query = false;
  for (const auto &[name, value] : query) {
    if (name == "beauty" || name == "moderation") {
      continue;
    }
    if (server_owned(name)) {
      return "param " + name + " is set by the server, not by the request";
    }
    choice.params[name] = value;
    from_query = true;
  }
  if (from_query) {
    // The loader names unknown params (with the declared ones) and values
    // of the wrong type or range.
    pipelines::Loader loader(include_dirs_);
    pipelines::LoadOptions options;
    options.params = choice.params;
    options.build = false;
    auto checked = loader.load_file(choice.file, options);
    if (!checked.ok()) {
      return "the request's params do not fit description " + choice.file.stem().string() + ": " +
             problems_text(checked.problems);
    }
  }
  return choice;
}

std::vector<std::string> check_media_descriptions(const MediaSettings &media,
                                                  const std::filesystem::path &presets_dir) {
  std::vector<std::string> problems;
  pipelines::Loader loader({presets_dir});
  auto check = [&](const std::string &at, const std::string &name,
                   const std::map<std::string, std::string> &params) {
    pipelines::LoadOptions options;
    options.params = params;
    options.build = false;
    auto checked = loader.load_file(resolve_description(name, presets_dir), options);
    for (const auto &problem : checked.problems) {
      problems.push_back(at + ": " + problem.to_string());
    }
  };
  check("$.media.description", media.description, {});
  // The shipped default is checked by the test suite; a host without its
  // elements (x264enc, lpbeauty) still serves passthrough streams and refuses
  // ?beauty=on with the reason. One that is configured must load.
  if (media.beauty_description != MediaSettings{}.beauty_description) {
    check("$.media.beautyDescription", media.beauty_description, {});
  }
  for (size_t i = 0; i < media.rules.size(); ++i) {
    const MediaRule &rule = media.rules[i];
    const std::string at = "$.media.rules[" + std::to_string(i) + "]";
    for (const auto &[name, value] : rule.params) {
      if (name == kVideoCodecParam) {
        problems.push_back(at + ".params." + name + ": is set by the server from the offer");
      }
    }
    check(at, rule.description, rule.params);
  }
  return problems;
}

}  // namespace livepipe::signaling::media
